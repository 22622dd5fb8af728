namespace OrleansBroker;

/// <summary>Per-topic settings, named after Kafka's topic configs.</summary>
[GenerateSerializer]
[Alias("OrleansBroker.TopicSettings")]
public sealed record TopicSettings
{
    /// <summary>Default <see cref="MaxMessageBytes"/>: 1 MiB plus the log overhead, as Kafka's <c>max.message.bytes</c> (1048588).</summary>
    public const int DefaultMaxMessageBytes = 1_048_588;

    /// <summary>Default <see cref="SegmentBytes"/>: 1 GiB, as Kafka's <c>segment.bytes</c>.</summary>
    public const int DefaultSegmentBytes = 1 << 30;

    /// <summary>Largest record batch accepted, in bytes (Kafka's <c>max.message.bytes</c>); at least 1024.</summary>
    [Id(0)] public int MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;

    /// <summary>Segment file size at which the log rolls to a new segment, in bytes (Kafka's <c>segment.bytes</c>); at least 4096.</summary>
    [Id(1)] public int SegmentBytes { get; init; } = DefaultSegmentBytes;

    /// <summary>Flush to disk after this many batches (Kafka's <c>flush.messages</c>); <c>null</c>: leave flushing to the OS.</summary>
    [Id(2)] public long? FlushMessages { get; init; }

    /// <summary>Flush to disk when the oldest unflushed batch is this old, in ms (Kafka's <c>flush.ms</c>); <c>null</c>: leave flushing to the OS.</summary>
    [Id(3)] public long? FlushMs { get; init; }
}

/// <summary>A topic as described by the catalog.</summary>
/// <param name="Name">Topic name (Kafka's rule: <c>[a-zA-Z0-9._-]</c>, 1 to 249 characters).</param>
/// <param name="PartitionCount">Partitions, numbered 0 to <c>PartitionCount - 1</c>.</param>
/// <param name="Settings">The topic's settings.</param>
[GenerateSerializer]
[Alias("OrleansBroker.TopicDescription")]
public sealed record TopicDescription(
    [property: Id(0)] string Name,
    [property: Id(1)] int PartitionCount,
    [property: Id(2)] TopicSettings Settings);

/// <summary>Result of a topic operation.</summary>
/// <param name="Error"><see cref="ErrorCode.None"/>, or <see cref="ErrorCode.InvalidTopic"/>, <see cref="ErrorCode.TopicAlreadyExists"/>,
/// <see cref="ErrorCode.InvalidPartitions"/>, <see cref="ErrorCode.InvalidConfig"/>, <see cref="ErrorCode.UnknownTopicOrPartition"/>.</param>
/// <param name="Message">A one-line reason when <paramref name="Error"/> is not None.</param>
/// <param name="Topic">The topic, when it exists.</param>
[GenerateSerializer]
[Alias("OrleansBroker.TopicResult")]
public sealed record TopicResult(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] string? Message,
    [property: Id(2)] TopicDescription? Topic);
