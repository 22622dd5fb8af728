namespace OrleansBroker.Client;

/// <summary>
/// Chooses the partition of a record (Kafka's <c>partitioner.class</c>).
/// </summary>
/// <param name="topic">Topic name.</param>
/// <param name="partitionCount">Partitions of the topic, 1 or more.</param>
/// <param name="key">Key bytes (empty when <paramref name="keyIsNull"/>).</param>
/// <param name="keyIsNull">True for a keyless record.</param>
/// <returns>A partition in [0, <paramref name="partitionCount"/>).</returns>
public delegate int Partitioner(string topic, int partitionCount, ReadOnlySpan<byte> key, bool keyIsNull);

/// <summary>Producer settings, named after Kafka's producer configs.</summary>
public sealed record ProducerOptions
{
    /// <summary>Default <see cref="BatchSize"/>: 1 MiB.</summary>
    public const int DefaultBatchSize = 1_048_576;

    /// <summary>Default <see cref="BufferMemory"/>: 32 MiB, as Kafka's <c>buffer.memory</c>.</summary>
    public const long DefaultBufferMemory = 32L * 1024 * 1024;

    /// <summary>Largest <see cref="MaxInFlightPerPartition"/> with idempotence (Kafka's limit: the broker keeps the last 5 batches per producer).</summary>
    public const int MaxInFlightWithIdempotence = 5;

    /// <summary>Default <see cref="ProducerStateIdleThreshold"/>: 1 minute.</summary>
    public static readonly TimeSpan DefaultProducerStateIdleThreshold = TimeSpan.FromMinutes(1);

    /// <summary>The defaults.</summary>
    public static ProducerOptions Default { get; } = new();

    /// <summary>
    /// Idempotent producer (Kafka's <c>enable.idempotence</c>, KIP-98): batches carry a producer id, epoch and sequence
    /// so a retried batch is written once. Default true. When false, a retry after a lost reply can duplicate records.
    /// </summary>
    public bool EnableIdempotence { get; init; } = true;

    /// <summary>
    /// How long a partition's batch waits for more records before it is sent, in ms (Kafka's <c>linger.ms</c>). Default 5. With
    /// <see cref="SendWhenIdle"/> (the default) it applies only while the partition has a batch in flight.
    /// </summary>
    public int LingerMs { get; init; } = 5;

    /// <summary>
    /// When true (the default), a partition with no batch awaiting acknowledgement sends its batch at once instead of waiting
    /// <see cref="LingerMs"/>; <see cref="LingerMs"/> then applies only while a batch of the partition is in flight. Batches grow
    /// with the load (the records that arrive during one round trip) instead of with time, so a lightly loaded producer is not
    /// delayed by the linger and a busy one still sends large batches. Such an immediate send happens at most once per
    /// min(<see cref="LingerMs"/>, 1 ms) per partition: under heavy load a batch then holds at least a millisecond of records instead of
    /// shrinking to what arrives during one fast round trip (measured: twice the batches, +25 % broker CPU, up to 15 % less throughput).
    /// While a batch is in flight, the next one waits for its acknowledgement only up to twice the partition's recent round trip (a
    /// moving average), then goes too: an acknowledgement that late (a pause in the broker or the network) does not hold the next
    /// records for the whole <see cref="LingerMs"/>.
    /// False waits <see cref="LingerMs"/> always, as Kafka's <c>linger.ms</c> does. Not a Kafka setting: Kafka's pre-4.0 default <c>linger.ms=0</c> sends at once even while requests are
    /// in flight.
    /// </summary>
    public bool SendWhenIdle { get; init; } = true;

    /// <summary>
    /// Largest batch, in bytes, header included (Kafka's <c>batch.size</c>). Default 1 MiB: larger than Kafka's 16384
    /// because each batch costs one grain call, so fewer, larger batches give the throughput. The producer caps it at
    /// the topic's <c>max.message.bytes</c>; a single record larger than that fails with <see cref="ErrorCode.MessageTooLarge"/>.
    /// </summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>
    /// Batches per partition sent and not yet acknowledged (Kafka's <c>max.in.flight.requests.per.connection</c>, counted per
    /// partition here). Default 5; at most 5 with idempotence.
    /// </summary>
    /// <remarks>
    /// With idempotence the full window is open only while the partition is known to hold state for this producer id and
    /// epoch: until a batch of the current epoch is acknowledged there (the first batch to a partition, the first after an
    /// epoch bump, the first after the partition was idle for <see cref="ProducerStateIdleThreshold"/>), only that one batch
    /// is in flight. A partition without state for the producer accepts any sequence (KIP-360), so a later batch that
    /// overtook the first one would be written first; Kafka avoids this by processing the requests of a connection in order,
    /// which grain calls do not guarantee.
    /// </remarks>
    public int MaxInFlightPerPartition { get; init; } = MaxInFlightWithIdempotence;

    /// <summary>
    /// Upper bound on the time from handing a record to the producer to its acknowledgement, retries included (Kafka's
    /// <c>delivery.timeout.ms</c>). Default 120 s. Must be at least <see cref="LingerMs"/> + <see cref="RequestTimeout"/>.
    /// </summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Per-call deadline of one send (Kafka's <c>request.timeout.ms</c>): a call without a reply by then counts as
    /// "outcome unknown" and is retried with the same bytes. Default 30 s.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait before the first retry of a batch (Kafka's <c>retry.backoff.ms</c>); doubles per attempt up to <see cref="RetryBackoffMax"/>. Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between retries (Kafka's <c>retry.backoff.max.ms</c>, KIP-580). Default 1 s.</summary>
    public TimeSpan RetryBackoffMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Bytes of records the producer holds before <see cref="Producer.Produce(string, Message, Action{DeliveryReport}?)"/> blocks
    /// (Kafka's <c>buffer.memory</c>). Default 32 MiB.
    /// </summary>
    public long BufferMemory { get; init; } = DefaultBufferMemory;

    /// <summary>How long a produce call may wait for buffer space (Kafka's <c>max.block.ms</c>). Default 60 s.</summary>
    public TimeSpan MaxBlock { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A stable name for this producer (beyond Kafka, like <c>transactional.id</c> without transactions): the registry
    /// gives the same producer id to every incarnation and bumps its epoch, so a restarted process fences its previous
    /// incarnation. <c>null</c> (default): a fresh producer id per producer.
    /// </summary>
    public string? ProducerIdentity { get; init; }

    /// <summary>
    /// Custom partitioner for records sent to a topic without an explicit partition; <c>null</c> (default): Kafka's
    /// default partitioner, murmur2 of the key for keyed records and the sticky partitioner for keyless ones (KIP-480).
    /// </summary>
    public Partitioner? Partitioner { get; init; }

    /// <summary>
    /// How long a partition may go without an acknowledged batch before the producer assumes the broker may have expired its
    /// producer state there (the broker's <c>ProducerIdExpiration</c>, Kafka's <c>producer.id.expiration.ms</c>, default
    /// 1 day, which the client cannot read). Past it, the partition's next batch is sent alone, and the window of
    /// <see cref="MaxInFlightPerPartition"/> batches opens again once that batch is acknowledged. Measured from when the
    /// partition's newest acknowledged batch was first sent. Default 1 minute: far below any sensible broker setting, and
    /// the price of a false alarm is one round trip with a single batch in flight. Must be positive; keep it below the
    /// broker's <c>ProducerIdExpiration</c>, or a burst after a longer pause can be stored out of order.
    /// </summary>
    public TimeSpan ProducerStateIdleThreshold { get; init; } = DefaultProducerStateIdleThreshold;

    /// <summary>Clock for linger, retry backoff and delivery timeout; <c>null</c>: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid; the message lists all of them.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (LingerMs < 0)
        {
            errors.Add($"LingerMs must be 0 or more (was {LingerMs}).");
        }

        if (BatchSize < 1024)
        {
            errors.Add($"BatchSize must be at least 1024 bytes (was {BatchSize}).");
        }

        if (MaxInFlightPerPartition < 1)
        {
            errors.Add($"MaxInFlightPerPartition must be at least 1 (was {MaxInFlightPerPartition}).");
        }
        else if (EnableIdempotence && MaxInFlightPerPartition > MaxInFlightWithIdempotence)
        {
            errors.Add($"MaxInFlightPerPartition must be at most {MaxInFlightWithIdempotence} with EnableIdempotence (was {MaxInFlightPerPartition}): the broker deduplicates only the last 5 batches.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add("RequestTimeout must be positive.");
        }

        if (DeliveryTimeout < TimeSpan.FromMilliseconds(LingerMs) + RequestTimeout)
        {
            errors.Add($"DeliveryTimeout ({DeliveryTimeout.TotalMilliseconds} ms) must be at least LingerMs + RequestTimeout ({LingerMs + RequestTimeout.TotalMilliseconds} ms), as Kafka requires.");
        }

        if (ProducerStateIdleThreshold <= TimeSpan.Zero)
        {
            errors.Add($"ProducerStateIdleThreshold must be positive (was {ProducerStateIdleThreshold}); default {DefaultProducerStateIdleThreshold}; keep it below the broker's ProducerIdExpiration (producer.id.expiration.ms, default 1 day).");
        }

        if (RetryBackoff < TimeSpan.Zero)
        {
            errors.Add("RetryBackoff must not be negative.");
        }

        if (RetryBackoffMax < RetryBackoff)
        {
            errors.Add("RetryBackoffMax must be at least RetryBackoff.");
        }

        if (BufferMemory < 1)
        {
            errors.Add("BufferMemory must be positive.");
        }

        if (MaxBlock < TimeSpan.Zero)
        {
            errors.Add("MaxBlock must not be negative.");
        }

        if (ProducerIdentity is { Length: 0 })
        {
            errors.Add("ProducerIdentity must be null or non-empty.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid ProducerOptions: " + string.Join(" ", errors));
        }
    }
}
