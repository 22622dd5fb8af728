using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Log;
using OrleansBroker.Protocol;
using OrleansBroker.Server.AzureStorage.Internal;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.Server.AzureStorage;

/// <summary>
/// The <see cref="ILogStoreFactory"/> for Azure Storage: an <see cref="AzureBlobLogStore"/> per partition, under the prefix
/// <see cref="AzureBlobLogStore.PartitionPrefix"/> (<c>{topic}-{partition}</c>) in <see cref="AzureStorageBrokerOptions.LogContainerName"/>.
/// Registered by <c>AddOrleansBrokerAzureStorage</c>.
/// </summary>
public sealed class AzureBlobLogStoreFactory : ILogStoreFactory
{
    private readonly Lazy<BlobContainerClient> _container;
    private readonly AzureBlobLogStoreOptions _storeOptions;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the factory; nothing is sent to Azure until a store opens.</summary>
    /// <param name="options">Containers and lease.</param>
    /// <param name="timeProvider">Clock handed to each store (lease renewal).</param>
    /// <param name="loggerFactory">Creates each store's logger.</param>
    public AzureBlobLogStoreFactory(IOptions<AzureStorageBrokerOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
        : this(options, new AzureStorageBrokerClients(options), timeProvider, loggerFactory)
    {
    }

    internal AzureBlobLogStoreFactory(IOptions<AzureStorageBrokerOptions> options, AzureStorageBrokerClients clients, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        AzureStorageBrokerOptions value = options.Value;
        string containerName = value.LogContainerName;
        _container = new Lazy<BlobContainerClient>(() => clients.BlobService.GetBlobContainerClient(containerName));
        _storeOptions = value.CreateLogStoreOptions();
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
    }

    /// <summary>The container holding the logs.</summary>
    public BlobContainerClient Container => _container.Value;

    /// <inheritdoc />
    /// <exception cref="LogStorageException">The topic's <c>max.message.bytes</c> is above 4 MiB, which an append block cannot hold; the
    /// partition grain reports it as <c>KAFKA_STORAGE_ERROR</c> with this message.</exception>
    public ILogStore Create(string topic, int partition, PartitionLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!TopicName.IsValid(topic, out string? reason))
        {
            throw new ArgumentException(reason, nameof(topic));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        string prefix = AzureBlobLogStore.PartitionPrefix(topic, partition);
        if (options.MaxMessageBytes > AzureBlobLogStoreOptions.MaxAppendBlockBytes)
        {
            throw new LogStorageException(
                $"Partition {prefix} has max.message.bytes {options.MaxMessageBytes}, but the Azure log store holds batches of at most "
                + $"{AzureBlobLogStoreOptions.MaxAppendBlockBytes} bytes (4 MiB); recreate the topic with max.message.bytes <= 4 MiB.");
        }

        return new AzureBlobLogStore(Container, prefix, options, _storeOptions, _timeProvider, _loggerFactory.CreateLogger<AzureBlobLogStore>());
    }
}
