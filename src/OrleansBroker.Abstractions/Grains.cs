namespace OrleansBroker;

/// <summary>
/// One topic partition: owns its log and its per-producer-id sequence map. Keyed by (partition number, topic name):
/// <c>grainFactory.GetGrain&lt;IPartitionGrain&gt;(partition, topic)</c>.
/// </summary>
/// <remarks>Expected outcomes (duplicate, out of order, fenced, unknown partition) are result codes, never exceptions.</remarks>
[Alias("OrleansBroker.IPartitionGrain")]
public interface IPartitionGrain : IGrainWithIntegerCompoundKey
{
    /// <summary>
    /// Appends one record batch (Kafka v2 bytes, base offset ignored) following the append rules of SEMANTICS.md:
    /// durable before acknowledged; a retry of one of the producer's last 5 batches is acknowledged with the original offset.
    /// </summary>
    /// <param name="batch">Exactly one uncompressed record batch; the caller may pass a slice of a larger buffer (only the slice travels).
    /// <see cref="ImmutableAttribute">Immutable</see>: Orleans does not copy it when the call is made but serializes it later, so the
    /// caller must leave these bytes unchanged until the returned task has completed (the SDK keeps the batch's buffer until then).
    /// A batch changed meanwhile fails its format or CRC-32C check and is refused, never stored. The silo reads it into a pooled buffer
    /// (<see cref="BatchBytes"/>).</param>
    /// <returns>The offset assigned, or the error (<see cref="ErrorCode.InvalidProducerEpoch"/>, <see cref="ErrorCode.OutOfOrderSequenceNumber"/>,
    /// <see cref="ErrorCode.CorruptMessage"/>, <see cref="ErrorCode.MessageTooLarge"/>, <see cref="ErrorCode.UnknownTopicOrPartition"/>, ...).</returns>
    [Alias("Produce")]
    Task<ProduceResult> ProduceAsync(BatchBytes batch);

    /// <summary>Reads whole record batches from <paramref name="offset"/> up to about <paramref name="maxBytes"/>.</summary>
    /// <param name="offset">First offset wanted; must lie in [log start offset, high watermark].</param>
    /// <param name="maxBytes">Soft byte limit (Kafka's <c>max.partition.fetch.bytes</c>); the first batch is returned even if larger.</param>
    /// <returns>The batches, high watermark and log start offset; <see cref="ErrorCode.OffsetOutOfRange"/> outside the log.</returns>
    [Alias("Fetch")]
    Task<FetchResult> FetchAsync(long offset, int maxBytes);

    /// <summary>Returns the log start offset, high watermark and log end offset (Kafka's ListOffsets, earliest/latest).</summary>
    /// <returns>The offsets, or <see cref="ErrorCode.UnknownTopicOrPartition"/>.</returns>
    [Alias("ListOffsets")]
    Task<PartitionOffsets> ListOffsetsAsync();
}

/// <summary>The topic catalog: one grain (key 0) holding every topic's description, stored durably.</summary>
[Alias("OrleansBroker.ITopicCatalogGrain")]
public interface ITopicCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Creates a topic.</summary>
    /// <param name="name">Topic name (Kafka's rule).</param>
    /// <param name="partitionCount">1 to 10,000 partitions.</param>
    /// <param name="settings">Settings, or <c>null</c> for the broker's defaults.</param>
    /// <returns>The created topic, or <see cref="ErrorCode.InvalidTopic"/>, <see cref="ErrorCode.TopicAlreadyExists"/>,
    /// <see cref="ErrorCode.InvalidPartitions"/>, <see cref="ErrorCode.InvalidConfig"/>.</returns>
    [Alias("CreateTopic")]
    Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings);

    /// <summary>Describes one topic.</summary>
    /// <param name="name">Topic name.</param>
    /// <returns>The topic, or <see cref="ErrorCode.UnknownTopicOrPartition"/> (<see cref="ErrorCode.InvalidTopic"/> for an illegal name).</returns>
    [Alias("DescribeTopic")]
    Task<TopicResult> DescribeTopicAsync(string name);

    /// <summary>
    /// Kafka's <c>Metadata</c> request for one topic with <c>allow_auto_topic_creation</c>: describes the topic, and when it does not
    /// exist, <paramref name="allowAutoTopicCreation"/> is true and the broker runs with <c>Broker:AutoCreateTopics</c>, creates it
    /// first with <c>Broker:DefaultPartitions</c> partitions and the default settings (a partition of a missing topic asks the same way when it activates).
    /// </summary>
    /// <param name="name">Topic name.</param>
    /// <param name="allowAutoTopicCreation">Whether the caller lets the broker create a missing topic (producers and consumers do;
    /// administrative describes do not).</param>
    /// <returns>The topic, or the errors of <see cref="DescribeTopicAsync"/> and, when creating, of <see cref="CreateTopicAsync"/>.</returns>
    [Alias("GetTopicMetadata")]
    Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation);

    /// <summary>Lists every topic, ordered by name.</summary>
    /// <returns>The topics.</returns>
    [Alias("ListTopics")]
    Task<IReadOnlyList<TopicDescription>> ListTopicsAsync();
}

/// <summary>
/// Issues producer ids (Kafka's InitProducerId). One grain, key 0. PIDs come from blocks recorded durably before any PID of
/// a block is handed out, so no PID is ever issued twice, also after restarts.
/// </summary>
[Alias("OrleansBroker.IProducerRegistryGrain")]
public interface IProducerRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Issues a new PID, or bumps the epoch of an existing one (KIP-360), or of a stable producer identity.</summary>
    /// <param name="request">What to issue or bump.</param>
    /// <returns>The PID and epoch, or <see cref="ErrorCode.InvalidProducerEpoch"/>.</returns>
    [Alias("InitProducerId")]
    Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request);
}
