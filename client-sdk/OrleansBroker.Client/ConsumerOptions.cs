namespace OrleansBroker.Client;

/// <summary>What a consumer does when its position is outside the log (Kafka's <c>auto.offset.reset</c>).</summary>
public enum AutoOffsetReset
{
    /// <summary>Throw <see cref="ConsumeException"/> with <see cref="ErrorCode.OffsetOutOfRange"/> (Kafka's <c>none</c>).</summary>
    Error = 0,

    /// <summary>Move to the log start offset (Kafka's <c>earliest</c>).</summary>
    Earliest,

    /// <summary>Move to the high watermark (Kafka's <c>latest</c>).</summary>
    Latest,
}

/// <summary>Consumer settings, named after Kafka's consumer configs.</summary>
public sealed record ConsumerOptions
{
    /// <summary>The defaults.</summary>
    public static ConsumerOptions Default { get; } = new();

    /// <summary>Soft byte limit of one fetch from one partition (Kafka's <c>max.partition.fetch.bytes</c>). Default 1 MiB; the first batch is returned even if larger.</summary>
    public int MaxPartitionFetchBytes { get; init; } = 1_048_576;

    /// <summary>How long to wait before polling a partition again once caught up, in ms (Kafka's <c>fetch.max.wait.ms</c>). Default 100.</summary>
    public int FetchWaitMaxMs { get; init; } = 100;

    /// <summary>
    /// Verify the CRC-32C of every fetched batch and that batches follow on in offset order (Kafka's <c>check.crcs</c>, default
    /// true). A failure raises <see cref="ConsumeException"/> with <see cref="ErrorCode.CorruptMessage"/> instead of handing corrupt
    /// records to the application. Costs one pass over the fetched bytes at hardware CRC speed.
    /// </summary>
    public bool CheckCrcs { get; init; } = true;

    /// <summary>Per-call deadline of one fetch (Kafka's <c>request.timeout.ms</c>). Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait after a failed fetch before the next one (Kafka's <c>retry.backoff.ms</c>). Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a partition may keep failing with transient errors (connection lost, timeouts, retriable broker codes)
    /// before <see cref="Consumer.ConsumeAsync"/> throws <see cref="ConsumeException"/>. Default 60 s (Kafka's
    /// <c>default.api.timeout.ms</c>); <see cref="Timeout.InfiniteTimeSpan"/>: retry for ever.
    /// </summary>
    public TimeSpan FetchRetryTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Emit a <see cref="ConsumeResult"/> with <see cref="ConsumeResult.IsPartitionEof"/> each time a partition is caught up (Kafka's <c>enable.partition.eof</c>). Default false.</summary>
    public bool EnablePartitionEof { get; init; }

    /// <summary>What to do when the position is outside the log. Default <see cref="Client.AutoOffsetReset.Error"/>.</summary>
    public AutoOffsetReset AutoOffsetReset { get; init; } = AutoOffsetReset.Error;

    /// <summary>Clock for fetch waits and retry timeouts; <c>null</c>: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid; the message lists all of them.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (MaxPartitionFetchBytes < 1)
        {
            errors.Add("MaxPartitionFetchBytes must be positive.");
        }

        if (FetchWaitMaxMs < 0)
        {
            errors.Add("FetchWaitMaxMs must be 0 or more.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add("RequestTimeout must be positive.");
        }

        if (RetryBackoff < TimeSpan.Zero)
        {
            errors.Add("RetryBackoff must not be negative.");
        }

        if (FetchRetryTimeout <= TimeSpan.Zero && FetchRetryTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add("FetchRetryTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid ConsumerOptions: " + string.Join(" ", errors));
        }
    }
}
