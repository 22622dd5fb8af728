namespace OrleansBroker.Server;

/// <summary>
/// Settings of the broker's grains and their embedded storage, bound from the <c>"Broker"</c> configuration section
/// (<see cref="SectionName"/>). Validated at silo start by <see cref="BrokerOptionsValidator"/>.
/// </summary>
public sealed class BrokerOptions
{
    /// <summary>The configuration section these options bind from: <c>"Broker"</c>.</summary>
    public const string SectionName = "Broker";

    /// <summary>Default <see cref="DataDirectory"/>: <c>./data</c>, relative to the process's current directory.</summary>
    public const string DefaultDataDirectory = "./data";

    /// <summary>Default <see cref="DefaultPartitions"/>: 1 (Kafka's <c>num.partitions</c>).</summary>
    public const int DefaultDefaultPartitions = 1;

    /// <summary>Default <see cref="ProducerIdBlockSize"/>: 1000 PIDs per durable block, as Kafka's <c>ProducerIdsBlock</c>.</summary>
    public const int DefaultProducerIdBlockSize = 1000;

    /// <summary>Default <see cref="MaxPartitionsPerTopic"/>: 10,000.</summary>
    public const int DefaultMaxPartitionsPerTopic = 10_000;

    /// <summary>Smallest legal <see cref="MaxMessageBytes"/> and <see cref="TopicSettings.MaxMessageBytes"/>: 1024 bytes.</summary>
    public const int MinMaxMessageBytes = 1024;

    /// <summary>Smallest legal <see cref="SegmentBytes"/> and <see cref="TopicSettings.SegmentBytes"/>: 4096 bytes.</summary>
    public const int MinSegmentBytes = 4096;

    /// <summary>Default <see cref="ProducerIdExpiration"/>: 1 day (Kafka's <c>producer.id.expiration.ms</c> = 86,400,000 ms).</summary>
    public static readonly TimeSpan DefaultProducerIdExpiration = TimeSpan.FromDays(1);

    /// <summary>Default <see cref="ProduceReorderWait"/>: 50 ms.</summary>
    public static readonly TimeSpan DefaultProduceReorderWait = TimeSpan.FromMilliseconds(50);

    /// <summary>Largest <see cref="ProduceReorderWait"/>: 5 s, well below the clients' request timeout (30 s by default), so a waiting batch is
    /// answered before its client gives up on the call.</summary>
    public static readonly TimeSpan MaxProduceReorderWait = TimeSpan.FromSeconds(5);

    /// <summary>Default <see cref="ProducerExpirationCheckInterval"/>: 1 minute.</summary>
    public static readonly TimeSpan DefaultProducerExpirationCheckInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Root of everything the broker stores on this machine: partition logs under <c>{DataDirectory}/topics/{topic}-{partition}</c>
    /// and grain state (topic catalog, producer registry) under <c>{DataDirectory}/grain-state</c>. Relative paths are resolved against
    /// the process's current directory. Default <c>./data</c>. Every silo of a cluster must see the same directory.
    /// </summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory;

    /// <summary>
    /// When true, producing to, fetching from or listing offsets of a topic that does not exist creates it with
    /// <see cref="DefaultPartitions"/> partitions and the default settings below (Kafka's <c>auto.create.topics.enable</c>, but off by default).
    /// </summary>
    public bool AutoCreateTopics { get; set; }

    /// <summary>Partitions of an auto-created topic (Kafka's <c>num.partitions</c>); 1 to <see cref="MaxPartitionsPerTopic"/>. Default 1.</summary>
    public int DefaultPartitions { get; set; } = DefaultDefaultPartitions;

    /// <summary>
    /// Default largest record batch accepted, in bytes, for topics created without settings (Kafka's <c>message.max.bytes</c>,
    /// default 1,048,588); at least 1024.
    /// </summary>
    public int MaxMessageBytes { get; set; } = TopicSettings.DefaultMaxMessageBytes;

    /// <summary>
    /// Default segment size in bytes for topics created without settings (Kafka's <c>log.segment.bytes</c>, default 1 GiB); at least 4096 and
    /// at least <see cref="MaxMessageBytes"/>.
    /// </summary>
    public int SegmentBytes { get; set; } = TopicSettings.DefaultSegmentBytes;

    /// <summary>Default fsync policy: after this many batches (Kafka's <c>log.flush.interval.messages</c>); <c>null</c> (default) leaves fsync to the OS; else at least 1.</summary>
    public long? FlushMessages { get; set; }

    /// <summary>Default fsync policy: when the oldest unflushed batch is this old, in ms (Kafka's <c>log.flush.interval.ms</c>); <c>null</c> (default) for none; else at least 0.</summary>
    public long? FlushMs { get; set; }

    /// <summary>A producer with no append to a partition for this long is forgotten there (Kafka's <c>producer.id.expiration.ms</c>). Default 1 day.</summary>
    public TimeSpan ProducerIdExpiration { get; set; } = DefaultProducerIdExpiration;

    /// <summary>How often a partition grain removes expired producers (Kafka's <c>producer.id.expiration.check.interval.ms</c>). Default 1 minute.</summary>
    public TimeSpan ProducerExpirationCheckInterval { get; set; } = DefaultProducerExpirationCheckInterval;

    /// <summary>
    /// Longest a partition holds an idempotent batch that arrived ahead of its producer's next sequence (same producer id and epoch) while
    /// the batches before it are still on their way. Grain calls can overtake each other between a client and a grain (Orleans does not
    /// keep message order); without the wait such a batch is refused as out of order at once and the producer resends it and every batch
    /// after it. The wait changes only when a batch is appended, never whether or where: the append applies the same rules after it.
    /// Default 50 ms; <see cref="TimeSpan.Zero"/> refuses at once (Kafka's behaviour, where one connection keeps order); at most
    /// <see cref="MaxProduceReorderWait"/>.
    /// </summary>
    public TimeSpan ProduceReorderWait { get; set; } = DefaultProduceReorderWait;

    /// <summary>PIDs reserved by one durable write of the producer registry (Kafka's PID block). Default 1000; at least 1.</summary>
    public int ProducerIdBlockSize { get; set; } = DefaultProducerIdBlockSize;

    /// <summary>Most partitions a topic may have. Default 10,000; at least 1.</summary>
    public int MaxPartitionsPerTopic { get; set; } = DefaultMaxPartitionsPerTopic;

    /// <summary>The settings a topic created without explicit settings gets (from <see cref="MaxMessageBytes"/>, <see cref="SegmentBytes"/>,
    /// <see cref="FlushMessages"/>, <see cref="FlushMs"/>).</summary>
    /// <returns>A new settings record.</returns>
    public TopicSettings CreateDefaultTopicSettings() => new()
    {
        MaxMessageBytes = MaxMessageBytes,
        SegmentBytes = SegmentBytes,
        FlushMessages = FlushMessages,
        FlushMs = FlushMs,
    };
}
