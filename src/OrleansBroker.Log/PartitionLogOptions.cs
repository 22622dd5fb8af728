namespace OrleansBroker.Log;

/// <summary>Settings of one partition's log, named after Kafka's topic and broker configs.</summary>
public sealed record PartitionLogOptions
{
    /// <summary>Batches remembered per producer for duplicate detection (Kafka's <c>NUM_BATCHES_TO_RETAIN</c>, and the 5 in-flight limit).</summary>
    public const int ProducerBatchHistory = 5;

    /// <summary>Default <see cref="ProducerIdExpiration"/>: 1 day, as Kafka's <c>producer.id.expiration.ms</c> (86,400,000 ms).</summary>
    public static readonly TimeSpan DefaultProducerIdExpiration = TimeSpan.FromDays(1);

    /// <summary>Largest batch accepted, in bytes (Kafka's <c>max.message.bytes</c>, default 1,048,588).</summary>
    public int MaxMessageBytes { get; init; } = 1_048_588;

    /// <summary>Segment size at which the log rolls, in bytes (Kafka's <c>segment.bytes</c>, default 1 GiB).</summary>
    public int SegmentBytes { get; init; } = 1 << 30;

    /// <summary>Bytes of log between two offset-index entries (Kafka's <c>index.interval.bytes</c>, default 4096).</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    /// <summary>fsync after this many batches (Kafka's <c>flush.messages</c>); <c>null</c>: written to the OS before the ack, fsync left to the OS.</summary>
    public long? FlushMessages { get; init; }

    /// <summary>fsync when the oldest unflushed batch is this old (Kafka's <c>flush.ms</c>); <c>null</c>: no time-based fsync.</summary>
    public TimeSpan? FlushInterval { get; init; }

    /// <summary>A producer with no append for this long is forgotten (Kafka's <c>producer.id.expiration.ms</c>); default 1 day.</summary>
    public TimeSpan ProducerIdExpiration { get; init; } = DefaultProducerIdExpiration;

    /// <summary>
    /// Also write a producer-state snapshot when this many bytes were appended since the last one, so recovery replays at most
    /// this much log (a snapshot is always written at segment roll and on close). Default 64 MiB.
    /// </summary>
    public long SnapshotIntervalBytes { get; init; } = 64L << 20;
}
