using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace OrleansBroker.Server.AzureStorage.Internal;

/// <summary>The one blob service client of the silo, shared by the log stores and the grain storage (one connection pool).</summary>
internal sealed class AzureStorageBrokerClients
{
    private readonly Lazy<BlobServiceClient> _blobService;

    public AzureStorageBrokerClients(IOptions<AzureStorageBrokerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _blobService = new Lazy<BlobServiceClient>(() =>
        {
            AzureStorageBrokerOptions value = options.Value;
            return value.BlobServiceClient
                ?? new BlobServiceClient(value.ConnectionString
                    ?? throw new InvalidOperationException($"No Azure Storage connection string; set {AzureStorageBrokerOptionsValidator.ConnectionStringSetting}."));
        });
    }

    /// <summary>The blob service client (created on first use).</summary>
    public BlobServiceClient BlobService => _blobService.Value;
}
