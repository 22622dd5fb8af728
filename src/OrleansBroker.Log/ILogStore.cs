using OrleansBroker.Protocol;

namespace OrleansBroker.Log;

/// <summary>
/// Durable storage of one partition's record batches and producer-state snapshots. Implementations: <see cref="FileLogStore"/>
/// (segment files), and later Azure Blob storage. The store knows bytes and offsets; the dedup rules live in <see cref="PartitionLog"/>.
/// </summary>
/// <remarks>
/// Single writer: <see cref="OpenAsync"/> takes the partition's writer lock (file lock, blob lease), and a second store opened on the same
/// partition fails with <see cref="LogFencedException"/>. A store is used by one caller at a time (the partition grain's log gate).
/// After any exception from <see cref="AppendAsync"/> the store's state is unknown: the caller must dispose it and open a new one,
/// whose recovery decides what was written.
/// </remarks>
public interface ILogStore : IAsyncDisposable
{
    /// <summary>First offset still in the log; valid after <see cref="OpenAsync"/>.</summary>
    long LogStartOffset { get; }

    /// <summary>Offset the next appended record gets; valid after <see cref="OpenAsync"/>.</summary>
    long LogEndOffset { get; }

    /// <summary>
    /// Takes the writer lock, then recovers: reads the segments, checks the last segment's batches by length and CRC-32C,
    /// and truncates a torn or corrupt tail (only data never acknowledged can be there).
    /// </summary>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>What recovery found.</returns>
    /// <exception cref="LogFencedException">Another writer holds the partition.</exception>
    /// <exception cref="LogStorageException">The storage failed.</exception>
    ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends one batch whose base offset is already <see cref="LogEndOffset"/>. When the task completes the batch is written
    /// according to the flush policy (by default: handed to the OS), and <see cref="LogEndOffset"/> moved past it.
    /// </summary>
    /// <param name="batch">Exactly one validated batch.</param>
    /// <param name="header">The batch's parsed header.</param>
    /// <param name="cancellationToken">Cancels the append (the outcome is then unknown).</param>
    /// <returns>Whether the append rolled to a new segment (the moment to snapshot producer state).</returns>
    /// <exception cref="LogFencedException">The writer lost its lock.</exception>
    /// <exception cref="LogStorageException">The storage failed; nothing may be assumed about the bytes.</exception>
    ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads whole batches starting with the batch that holds <paramref name="offset"/>, up to <paramref name="maxBytes"/>
    /// (at least one batch, even when larger).
    /// </summary>
    /// <param name="offset">An offset in [<see cref="LogStartOffset"/>, <see cref="LogEndOffset"/>).</param>
    /// <param name="maxBytes">Soft limit in bytes.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The batches back to back; empty when <paramref name="offset"/> is <see cref="LogEndOffset"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The offset is outside the log.</exception>
    ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default);

    /// <summary>Enumerates the headers of every batch whose last offset is at or after <paramref name="fromOffset"/>, in log order (for producer-state replay).</summary>
    /// <param name="fromOffset">First offset of interest.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <returns>The headers, with their base offsets.</returns>
    IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, CancellationToken cancellationToken = default);

    /// <summary>Makes every appended batch durable (fsync).</summary>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <returns>A task that completes when flushed.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores a producer-state snapshot taken at <paramref name="offset"/> (the log end offset it covers), keeping the two newest.</summary>
    /// <param name="offset">Log end offset when the snapshot was taken.</param>
    /// <param name="snapshot">The snapshot bytes (their format is <see cref="ProducerStateManager"/>'s).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the snapshot is durable.</returns>
    ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when <see cref="WriteProducerSnapshotAsync"/> may keep running while <see cref="AppendAsync"/> and reads continue: the call
    /// takes what it needs from the store's state before it returns to its caller (its synchronous part) and does its I/O without
    /// touching the append path. <see cref="PartitionLog"/> then writes periodic snapshots in the background, so an append never waits
    /// for their fsyncs. At most one such write runs at a time, and <see cref="FlushAsync"/>, another snapshot and
    /// <see cref="IAsyncDisposable.DisposeAsync"/> are called only after it completed. Default: false (one call at a time).
    /// </summary>
    bool CanSnapshotConcurrently => false;

    /// <summary>
    /// A periodic producer-state snapshot (after a roll or every <see cref="PartitionLogOptions.SnapshotIntervalBytes"/>), written while
    /// appends go on when <see cref="CanSnapshotConcurrently"/> is true. Unlike <see cref="WriteProducerSnapshotAsync"/> the store need not
    /// force anything to disk: a snapshot lost in an operating-system crash is only an older starting point for recovery (snapshots carry
    /// a CRC and are never used past the recovered log end), and an fsync here would stall the appends that share the file system journal.
    /// Default: <see cref="WriteProducerSnapshotAsync"/>.
    /// </summary>
    /// <param name="offset">Log end offset when the snapshot was taken.</param>
    /// <param name="snapshot">The snapshot bytes.</param>
    /// <returns>A task that completes when the snapshot is written.</returns>
    ValueTask WriteProducerSnapshotInBackgroundAsync(long offset, ReadOnlyMemory<byte> snapshot) => WriteProducerSnapshotAsync(offset, snapshot);

    /// <summary>Reads the stored producer-state snapshots, newest first.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Each snapshot's offset and bytes; snapshots past <see cref="LogEndOffset"/> are not returned.</returns>
    IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync(CancellationToken cancellationToken = default);
}

/// <summary>What <see cref="ILogStore.OpenAsync"/> found.</summary>
/// <param name="LogStartOffset">First offset in the log.</param>
/// <param name="LogEndOffset">Offset after the last valid batch.</param>
/// <param name="SegmentCount">Segments in the log.</param>
/// <param name="TruncatedBytes">Bytes cut from the tail because they were torn or failed their CRC.</param>
public readonly record struct LogRecoveryInfo(long LogStartOffset, long LogEndOffset, int SegmentCount, long TruncatedBytes);

/// <summary>The log's storage failed (I/O error, disk full, lost connection). Maps to Kafka's <c>KAFKA_STORAGE_ERROR</c>; retriable.</summary>
public class LogStorageException : IOException
{
    /// <summary>Creates the exception.</summary>
    public LogStorageException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public LogStorageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The storage's own error.</param>
    public LogStorageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Another writer holds the partition's log (a second activation); this one must not write. Retriable for the caller.</summary>
public sealed class LogFencedException : LogStorageException
{
    /// <summary>Creates the exception.</summary>
    public LogFencedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which log and who holds it.</param>
    public LogFencedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which log and who holds it.</param>
    /// <param name="innerException">The storage's own error.</param>
    public LogFencedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
