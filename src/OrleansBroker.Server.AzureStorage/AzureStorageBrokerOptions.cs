using Azure.Storage.Blobs;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.Server.AzureStorage;

/// <summary>
/// Where the broker keeps its data in Azure Storage: the partition logs (<see cref="AzureBlobLogStore"/>, one append-blob chain per
/// partition under the prefix <c>{topic}-{partition}</c> in <see cref="LogContainerName"/>) and the broker's metadata (topic catalog,
/// producer registry PID blocks) as Orleans blob grain state in <see cref="GrainStateContainerName"/>. Validated at silo start by
/// <see cref="AzureStorageBrokerOptionsValidator"/>.
/// </summary>
/// <remarks>
/// The silo host binds the containers and lease from the <c>Broker:AzureStorage</c> section and takes the connection string from
/// <c>ConnectionStrings:AzureStorage</c>. Two brokers may share a storage account only with different container names.
/// </remarks>
public sealed class AzureStorageBrokerOptions
{
    /// <summary>Default <see cref="LogContainerName"/>: <c>orleans-broker</c>.</summary>
    public const string DefaultLogContainerName = "orleans-broker";

    /// <summary>Default <see cref="GrainStateContainerName"/>: <c>orleans-broker-state</c>.</summary>
    public const string DefaultGrainStateContainerName = "orleans-broker-state";

    /// <summary>
    /// Azure Storage connection string (shared key or SAS) used for the blob service. Ignored when <see cref="BlobServiceClient"/> is
    /// set. One of the two is required.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// A ready blob service client (for example with a managed identity: <c>new BlobServiceClient(uri, new DefaultAzureCredential())</c>);
    /// takes precedence over <see cref="ConnectionString"/>. Not bound from configuration.
    /// </summary>
    public BlobServiceClient? BlobServiceClient { get; set; }

    /// <summary>
    /// Container holding every partition log, created on first use. 3 to 63 characters: lower-case letters, digits and single
    /// hyphens, starting and ending with a letter or digit (Azure's container naming rule). Default <c>orleans-broker</c>.
    /// </summary>
    public string LogContainerName { get; set; } = DefaultLogContainerName;

    /// <summary>
    /// Container holding the grain state of the topic catalog and the producer registry (grain storage
    /// <see cref="BrokerGrainStorage.ProviderName"/>), created at silo start. Same naming rule as <see cref="LogContainerName"/>, and
    /// must differ from it. Default <c>orleans-broker-state</c>.
    /// </summary>
    public string GrainStateContainerName { get; set; } = DefaultGrainStateContainerName;

    /// <summary>
    /// Duration of a partition's writer lease (<see cref="AzureBlobLogStoreOptions.LeaseDuration"/>): 15 to 60 s. When a silo dies
    /// without closing its partitions, another silo can open them once the lease has expired, so this bounds the failover time of
    /// the log (membership must also declare the silo dead). Default 15 s, the shortest Azure grants.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = AzureBlobLogStoreOptions.DefaultLeaseDuration;

    /// <summary>The per-partition store settings these options give.</summary>
    /// <returns>The log-store options (lease; the rest at their defaults).</returns>
    public AzureBlobLogStoreOptions CreateLogStoreOptions() => AzureBlobLogStoreOptions.Default with { LeaseDuration = LeaseDuration };
}
