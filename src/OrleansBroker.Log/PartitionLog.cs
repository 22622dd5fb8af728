using Microsoft.Extensions.Logging;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log;

/// <summary>Outcome of <see cref="PartitionLog.AppendAsync"/>.</summary>
public enum AppendStatus
{
    /// <summary>Written and durable per the flush policy.</summary>
    Appended,

    /// <summary>A retry of one of the producer's last 5 batches: nothing written; the original offset is returned.</summary>
    Duplicate,

    /// <summary>The producer epoch is older than the current one (fenced). Kafka: <c>INVALID_PRODUCER_EPOCH</c>.</summary>
    InvalidProducerEpoch,

    /// <summary>The base sequence is not the next expected one. Kafka: <c>OUT_OF_ORDER_SEQUENCE_NUMBER</c>.</summary>
    OutOfOrderSequence,

    /// <summary>The CRC failed or the records did not decode. Kafka: <c>CORRUPT_MESSAGE</c>.</summary>
    CorruptMessage,

    /// <summary>Larger than <see cref="PartitionLogOptions.MaxMessageBytes"/>. Kafka: <c>MESSAGE_TOO_LARGE</c>.</summary>
    MessageTooLarge,

    /// <summary>Compressed with a codec not accepted yet. Kafka: <c>UNSUPPORTED_COMPRESSION_TYPE</c>.</summary>
    UnsupportedCompression,

    /// <summary>The magic byte is not 2. Kafka: <c>UNSUPPORTED_FOR_MESSAGE_FORMAT</c>.</summary>
    UnsupportedMagic,

    /// <summary>A header field is inconsistent. Kafka: <c>INVALID_RECORD</c>.</summary>
    InvalidRecord,
}

/// <summary>Result of one append.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="BaseOffset">Offset of the first record (the original's for a duplicate); -1 on error.</param>
/// <param name="Timestamp">The batch's max timestamp (the original's for a duplicate), ms since the Unix epoch; -1 on error.</param>
/// <param name="ExpectedSequence">For <see cref="AppendStatus.OutOfOrderSequence"/>: the base sequence expected; otherwise -1.</param>
/// <param name="CurrentEpoch">For <see cref="AppendStatus.InvalidProducerEpoch"/>: the current epoch; otherwise -1.</param>
/// <param name="Message">A one-line reason on error.</param>
public readonly record struct LogAppendResult(AppendStatus Status, long BaseOffset, long Timestamp, int ExpectedSequence = -1, short CurrentEpoch = -1, string? Message = null);

/// <summary>
/// One partition: an <see cref="ILogStore"/> plus its <see cref="ProducerStateManager"/>, applying SEMANTICS.md's append rules in order.
/// The partition grain is a thin shell over this class. Not thread-safe: one call at a time.
/// </summary>
/// <remarks>
/// Rule 2 (no batch on unloaded state) holds by construction: a <see cref="PartitionLog"/> exists only after <see cref="OpenAsync"/> recovered
/// the producer state. Rule 8: a batch is durable in the store before the state changes and before the result is returned. When the store
/// throws, the log is faulted (<see cref="IsFaulted"/>) and must be disposed and reopened, so recovery decides what was written.
/// </remarks>
public sealed class PartitionLog : IAsyncDisposable
{
    private PartitionLog() => throw new NotImplementedException();

    /// <summary>First offset in the log.</summary>
    public long LogStartOffset => throw new NotImplementedException();

    /// <summary>Offset the next record gets.</summary>
    public long LogEndOffset => throw new NotImplementedException();

    /// <summary>Offset after the last durable record; equal to <see cref="LogEndOffset"/> (no replication yet; durable = per flush policy).</summary>
    public long HighWatermark => throw new NotImplementedException();

    /// <summary>True after the store threw: the log refuses further appends; dispose and reopen.</summary>
    public bool IsFaulted => throw new NotImplementedException();

    /// <summary>The producer state (for tests and metrics).</summary>
    public ProducerStateManager ProducerState => throw new NotImplementedException();

    /// <summary>
    /// Opens the store and rebuilds the producer state: the newest valid snapshot, then a replay of every later batch without sequence checks.
    /// A snapshot that fails its CRC or version check is skipped (the next older one, or the whole log, is used).
    /// </summary>
    /// <param name="store">The partition's store, not yet opened; the log owns it from now on.</param>
    /// <param name="options">Limits and expiry.</param>
    /// <param name="timeProvider">Clock for expiry and flush.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    /// <param name="cancellationToken">Cancels recovery.</param>
    /// <returns>The opened log.</returns>
    /// <exception cref="LogFencedException">Another writer holds the partition.</exception>
    /// <exception cref="LogStorageException">The storage failed.</exception>
    public static ValueTask<PartitionLog> OpenAsync(ILogStore store, PartitionLogOptions options, TimeProvider timeProvider, ILogger? logger = null, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>
    /// Validates and appends one batch following the append rules. The base offset (bytes 0–7) of <paramref name="batch"/> is overwritten in place.
    /// </summary>
    /// <param name="batch">Exactly one batch from a producer.</param>
    /// <param name="cancellationToken">Cancels the write (outcome then unknown; the log becomes faulted).</param>
    /// <returns>The outcome; expected failures are statuses, not exceptions.</returns>
    /// <exception cref="LogStorageException">The store failed; the log is now faulted.</exception>
    /// <exception cref="InvalidOperationException">The log is faulted or disposed.</exception>
    public ValueTask<LogAppendResult> AppendAsync(Memory<byte> batch, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Reads whole batches from <paramref name="offset"/>.</summary>
    /// <param name="offset">In [<see cref="LogStartOffset"/>, <see cref="HighWatermark"/>].</param>
    /// <param name="maxBytes">Soft byte limit; at least one batch is returned when one exists.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The bytes, or <c>null</c> when the offset is out of range.</returns>
    public ValueTask<ReadOnlyMemory<byte>?> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Forgets idle producers (call from a timer).</summary>
    /// <returns>How many were removed.</returns>
    public int RemoveExpiredProducers() => throw new NotImplementedException();

    /// <summary>Flushes the store and writes a producer-state snapshot at the log end offset (on deactivation and shutdown).</summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes when both are durable.</returns>
    public ValueTask CheckpointAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Checkpoints (unless faulted) and releases the store and its writer lock.</summary>
    /// <returns>A task that completes when closed.</returns>
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
