namespace OrleansBroker.Client.Internal;

/// <summary>
/// The grain calls the SDK makes, behind one seam so tests can inject lost replies, delays and errors without a cluster.
/// Every method returns the grain's task as is: deadlines and retries are the caller's.
/// </summary>
internal interface IBrokerTransport
{
    /// <summary>Cancelled when the client loses its connection to every gateway (Orleans' ClusterConnectionLost); a new token is handed out after.</summary>
    CancellationToken ConnectionLost { get; }

    /// <summary><see cref="IPartitionGrain.ProduceAsync"/>.</summary>
    Task<ProduceResult> ProduceAsync(string topic, int partition, ReadOnlyMemory<byte> batch);

    /// <summary><see cref="IPartitionGrain.FetchAsync"/>.</summary>
    Task<FetchResult> FetchAsync(string topic, int partition, long offset, int maxBytes);

    /// <summary><see cref="IPartitionGrain.ListOffsetsAsync"/>.</summary>
    Task<PartitionOffsets> ListOffsetsAsync(string topic, int partition);

    /// <summary><see cref="ITopicCatalogGrain.CreateTopicAsync"/>.</summary>
    Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings);

    /// <summary><see cref="ITopicCatalogGrain.DescribeTopicAsync"/>.</summary>
    Task<TopicResult> DescribeTopicAsync(string name);

    /// <summary><see cref="ITopicCatalogGrain.GetTopicMetadataAsync"/>.</summary>
    Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation);

    /// <summary><see cref="ITopicCatalogGrain.ListTopicsAsync"/>.</summary>
    Task<IReadOnlyList<TopicDescription>> ListTopicsAsync();

    /// <summary><see cref="IProducerRegistryGrain.InitProducerIdAsync"/>.</summary>
    Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request);
}

/// <summary>Holds the "connection lost" token: cancelled and replaced each time the cluster connection is lost.</summary>
internal sealed class ConnectionMonitor : IDisposable
{
    private CancellationTokenSource _cts = new();

    /// <summary>The current token.</summary>
    public CancellationToken Token => Volatile.Read(ref _cts).Token;

    /// <summary>Cancels every wait that uses the current token and hands out a fresh one.</summary>
    public void NotifyConnectionLost()
    {
        CancellationTokenSource old = Interlocked.Exchange(ref _cts, new CancellationTokenSource());
        try
        {
            old.Cancel();
        }
        finally
        {
            old.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _cts.Dispose();
}

/// <summary>The production transport: Orleans grain references from an <see cref="IGrainFactory"/>.</summary>
internal sealed class GrainBrokerTransport(IGrainFactory grains, ConnectionMonitor? monitor) : IBrokerTransport
{
    public CancellationToken ConnectionLost => monitor?.Token ?? CancellationToken.None;

    public Task<ProduceResult> ProduceAsync(string topic, int partition, ReadOnlyMemory<byte> batch) =>
        grains.GetGrain<IPartitionGrain>(partition, topic).ProduceAsync(new BatchBytes(batch));

    public Task<FetchResult> FetchAsync(string topic, int partition, long offset, int maxBytes) =>
        grains.GetGrain<IPartitionGrain>(partition, topic).FetchAsync(offset, maxBytes);

    public Task<PartitionOffsets> ListOffsetsAsync(string topic, int partition) =>
        grains.GetGrain<IPartitionGrain>(partition, topic).ListOffsetsAsync();

    public Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings) =>
        grains.GetGrain<ITopicCatalogGrain>(0).CreateTopicAsync(name, partitionCount, settings);

    public Task<TopicResult> DescribeTopicAsync(string name) =>
        grains.GetGrain<ITopicCatalogGrain>(0).DescribeTopicAsync(name);

    public Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation) =>
        grains.GetGrain<ITopicCatalogGrain>(0).GetTopicMetadataAsync(name, allowAutoTopicCreation);

    public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync() =>
        grains.GetGrain<ITopicCatalogGrain>(0).ListTopicsAsync();

    public Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request) =>
        grains.GetGrain<IProducerRegistryGrain>(0).InitProducerIdAsync(request);
}
