using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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

    /// <summary>
    /// The CRC failed, the records did not decode, or the bytes are not exactly one batch (too short, or <c>batchLength</c>
    /// disagrees with the bytes received: a batch cut or padded in transit). Kafka: <c>CORRUPT_MESSAGE</c>.
    /// </summary>
    CorruptMessage,

    /// <summary>Larger than <see cref="PartitionLogOptions.MaxMessageBytes"/>. Kafka: <c>MESSAGE_TOO_LARGE</c>.</summary>
    MessageTooLarge,

    /// <summary>Compressed with a codec not accepted yet. Kafka: <c>UNSUPPORTED_COMPRESSION_TYPE</c>.</summary>
    UnsupportedCompression,

    /// <summary>The magic byte is not 2. Kafka: <c>UNSUPPORTED_FOR_MESSAGE_FORMAT</c>.</summary>
    UnsupportedMagic,

    /// <summary>
    /// A header field is inconsistent (record count, last offset delta, a producer id without epoch or sequence, a control batch),
    /// or the batch is transactional (not supported yet). Kafka: <c>INVALID_RECORD</c>.
    /// </summary>
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
    private readonly ILogStore _store;
    private readonly PartitionLogOptions _options;
    private readonly ProducerStateManager _state;
    private readonly ILogger _logger;
    private long _bytesSinceSnapshot;
    private bool _snapshotPending;
    private Task? _backgroundSnapshot;
    private bool _faulted;
    private bool _disposed;

    private PartitionLog(ILogStore store, PartitionLogOptions options, ProducerStateManager state, ILogger logger)
    {
        _store = store;
        _options = options;
        _state = state;
        _logger = logger;
    }

    /// <summary>First offset in the log.</summary>
    public long LogStartOffset => _store.LogStartOffset;

    /// <summary>Offset the next record gets.</summary>
    public long LogEndOffset => _store.LogEndOffset;

    /// <summary>Offset after the last durable record; equal to <see cref="LogEndOffset"/> (no replication yet; durable = per flush policy).</summary>
    public long HighWatermark => _store.LogEndOffset;

    /// <summary>True after the store threw: the log refuses further appends; dispose and reopen.</summary>
    public bool IsFaulted => _faulted;

    /// <summary>The producer state (for tests and metrics).</summary>
    public ProducerStateManager ProducerState => _state;

    /// <summary>The producer-state snapshot being written in the background, if any (tests wait on it).</summary>
    internal Task? BackgroundSnapshot => _backgroundSnapshot;

    /// <summary>What <see cref="OpenAsync"/> did: snapshot used, batches replayed, producers recovered.</summary>
    public PartitionLogRecovery Recovery { get; private set; }

    /// <summary>
    /// Opens the store and rebuilds the producer state: the newest valid snapshot, then a replay of every later batch without sequence checks.
    /// A snapshot that fails its CRC or version check is skipped (the next older one, or the whole log, is used).
    /// </summary>
    /// <param name="store">The partition's store, not yet opened; the log owns it from now on (also when opening fails: it is then disposed).</param>
    /// <param name="options">Limits and expiry.</param>
    /// <param name="timeProvider">Clock for expiry and flush.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    /// <param name="cancellationToken">Cancels recovery.</param>
    /// <returns>The opened log.</returns>
    /// <remarks>
    /// A snapshot taken at offset X covers every batch below X; batches with a base offset ≥ X are replayed, so the cost grows with the
    /// tail after the snapshot, not with the log. <see cref="Recovery"/> and a log line report what was done.
    /// </remarks>
    /// <exception cref="LogFencedException">Another writer holds the partition.</exception>
    /// <exception cref="LogStorageException">The storage failed.</exception>
    public static async ValueTask<PartitionLog> OpenAsync(ILogStore store, PartitionLogOptions options, TimeProvider timeProvider, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        logger ??= NullLogger.Instance;
        try
        {
            LogRecoveryInfo storeInfo = await store.OpenAsync(cancellationToken);
            var state = new ProducerStateManager(options.ProducerIdExpiration, timeProvider);
            long logEndOffset = store.LogEndOffset;

            long snapshotOffset = -1;
            int skipped = 0;
            await foreach ((long offset, byte[] snapshot) in store.ReadProducerSnapshotsAsync(cancellationToken))
            {
                if (offset <= logEndOffset && state.TryLoadSnapshot(snapshot, out long loadedOffset) && loadedOffset == offset)
                {
                    snapshotOffset = offset;
                    break;
                }

                skipped++;
                PartitionLogLog.SnapshotSkipped(logger, offset, snapshot.Length);
            }

            long replayFrom = Math.Max(snapshotOffset, store.LogStartOffset);
            long replayed = 0;
            await foreach (RecordBatchHeader header in store.ReadHeadersAsync(replayFrom, cancellationToken))
            {
                replayed++;
                if (header.BaseOffset >= replayFrom && header.HasProducerId)
                {
                    state.Update(header, header.BaseOffset);
                }
            }

            var log = new PartitionLog(store, options, state, logger)
            {
                Recovery = new PartitionLogRecovery(storeInfo, snapshotOffset, skipped, replayed, state.ProducerCount),
            };
            PartitionLogLog.Recovered(
                logger, store.LogStartOffset, logEndOffset, storeInfo.SegmentCount, storeInfo.TruncatedBytes, snapshotOffset, skipped, replayed, state.ProducerCount);
            return log;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Validates and appends one batch following the append rules. The base offset (bytes 0–7) of <paramref name="batch"/> is overwritten in place.
    /// </summary>
    /// <param name="batch">Exactly one batch from a producer.</param>
    /// <param name="cancellationToken">Cancels the write (outcome then unknown; the log becomes faulted).</param>
    /// <returns>The outcome; expected failures are statuses, not exceptions.</returns>
    /// <remarks>
    /// Order: format (length, magic, size, CRC-32C, compression, header, records) → rule 1 (PID -1: no dedup) → rules 3–7
    /// (<see cref="ProducerStateManager.CheckAppend"/>) → write → producer state (rule 8) → acknowledgement. A refused batch writes nothing.
    /// A producer-state snapshot follows a segment roll, or <see cref="PartitionLogOptions.SnapshotIntervalBytes"/> of appends; the state is
    /// copied at once and, when the store allows it (<see cref="ILogStore.CanSnapshotConcurrently"/>), written in the background, so the
    /// acknowledgement does not wait for the snapshot's fsyncs (a stall of up to ~100 ms per partition, profiled, before).
    /// </remarks>
    /// <exception cref="LogStorageException">The store failed; the log is now faulted.</exception>
    /// <exception cref="InvalidOperationException">The log is faulted or disposed.</exception>
    public async ValueTask<LogAppendResult> AppendAsync(Memory<byte> batch, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        cancellationToken.ThrowIfCancellationRequested();

        BatchFormatError error = RecordBatch.Validate(batch.Span, _options.MaxMessageBytes, out RecordBatchHeader header, validateRecords: true);
        if (error != BatchFormatError.None)
        {
            return Refuse(MapFormatError(error), DescribeFormatError(error, batch.Length, header));
        }

        if (header.IsTransactional)
        {
            return Refuse(AppendStatus.InvalidRecord, "Transactional batches are not supported yet.");
        }

        if (header.HasProducerId)
        {
            AppendCheck check = _state.CheckAppend(header);
            switch (check.Kind)
            {
                case AppendCheckKind.Duplicate:
                    return new LogAppendResult(AppendStatus.Duplicate, check.Duplicate.FirstOffset, check.Duplicate.Timestamp);
                case AppendCheckKind.InvalidProducerEpoch:
                    return new LogAppendResult(
                        AppendStatus.InvalidProducerEpoch, -1, -1, CurrentEpoch: check.CurrentEpoch,
                        Message: $"Producer {header.ProducerId} epoch {header.ProducerEpoch} is fenced by epoch {check.CurrentEpoch}.");
                case AppendCheckKind.OutOfOrderSequence:
                    return new LogAppendResult(
                        AppendStatus.OutOfOrderSequence, -1, -1, ExpectedSequence: check.ExpectedSequence,
                        Message: $"Producer {header.ProducerId} epoch {header.ProducerEpoch}: base sequence {header.BaseSequence}, expected {check.ExpectedSequence}.");
                default:
                    break;
            }
        }

        long baseOffset = _store.LogEndOffset;
        RecordBatch.SetBaseOffset(batch.Span, baseOffset);
        header = header with { BaseOffset = baseOffset };
        bool rolled;
        try
        {
            rolled = await _store.AppendAsync(batch, header, cancellationToken);
        }
        catch (Exception ex)
        {
            MarkFaulted(ex, "append", baseOffset);
            if (ex is LogStorageException or OperationCanceledException)
            {
                throw;
            }

            throw new LogStorageException($"The log store failed to append at offset {baseOffset}.", ex);
        }

        // Rule 8: the batch is stored; only now does the producer state change.
        if (header.HasProducerId)
        {
            _state.Update(header, baseOffset);
        }

        _bytesSinceSnapshot += batch.Length;
        if (rolled || _snapshotPending || _bytesSinceSnapshot >= _options.SnapshotIntervalBytes)
        {
            if (_store.CanSnapshotConcurrently)
            {
                // Off the append path: this batch's acknowledgement does not wait for the snapshot's fsyncs.
                StartBackgroundSnapshot();
            }
            else
            {
                // The batch is stored: finish the acknowledgement even if the caller cancels now.
                await TrySnapshotAfterAppendAsync(CancellationToken.None);
            }
        }

        return new LogAppendResult(AppendStatus.Appended, baseOffset, header.MaxTimestamp);
    }

    /// <summary>Reads whole batches from <paramref name="offset"/>.</summary>
    /// <param name="offset">In [<see cref="LogStartOffset"/>, <see cref="HighWatermark"/>].</param>
    /// <param name="maxBytes">Soft byte limit; at least one batch is returned when one exists.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The bytes (empty at the high watermark), or <c>null</c> when the offset is out of range (Kafka's <c>OFFSET_OUT_OF_RANGE</c>).</returns>
    /// <exception cref="InvalidOperationException">The log is faulted or disposed.</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        long highWatermark = HighWatermark;
        if (offset < LogStartOffset || offset > highWatermark)
        {
            return null;
        }

        if (offset == highWatermark)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        return await _store.ReadAsync(offset, maxBytes, cancellationToken);
    }

    /// <summary>Forgets idle producers (call from a timer).</summary>
    /// <returns>How many were removed.</returns>
    /// <exception cref="InvalidOperationException">The log is faulted or disposed.</exception>
    public int RemoveExpiredProducers()
    {
        ThrowIfUnusable();
        return _state.RemoveExpired();
    }

    /// <summary>Flushes the store and writes a producer-state snapshot at the log end offset (on deactivation and shutdown).</summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes when both are durable.</returns>
    /// <exception cref="LogStorageException">The store failed; the log is now faulted.</exception>
    /// <exception cref="InvalidOperationException">The log is faulted or disposed.</exception>
    public async ValueTask CheckpointAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        await WaitForBackgroundSnapshotAsync();
        ThrowIfUnusable();
        long offset = _store.LogEndOffset;
        try
        {
            await _store.FlushAsync(cancellationToken);
            await WriteSnapshotAsync(offset, cancellationToken);
        }
        catch (Exception ex)
        {
            MarkFaulted(ex, "checkpoint", offset);
            if (ex is LogStorageException or OperationCanceledException)
            {
                throw;
            }

            throw new LogStorageException($"The log store failed to checkpoint at offset {offset}.", ex);
        }
    }

    /// <summary>Checkpoints (unless faulted) and releases the store and its writer lock.</summary>
    /// <returns>A task that completes when closed.</returns>
    /// <exception cref="LogStorageException">The final checkpoint failed (the store is released all the same).</exception>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            if (!_faulted)
            {
                await CheckpointAsync();
            }
        }
        finally
        {
            _disposed = true;
            await WaitForBackgroundSnapshotAsync();
            await _store.DisposeAsync();
        }
    }

    private static LogAppendResult Refuse(AppendStatus status, string message) => new(status, -1, -1, Message: message);

    /// <summary>
    /// Maps a format error to its status. <see cref="BatchFormatError.InvalidLength"/> becomes <see cref="AppendStatus.CorruptMessage"/>,
    /// as Kafka's <c>CorruptRecordException</c> for a truncated batch: the bytes were damaged, not composed wrongly.
    /// </summary>
    private static AppendStatus MapFormatError(BatchFormatError error) => error switch
    {
        BatchFormatError.CrcMismatch or BatchFormatError.InvalidRecords or BatchFormatError.InvalidLength => AppendStatus.CorruptMessage,
        BatchFormatError.TooLarge => AppendStatus.MessageTooLarge,
        BatchFormatError.UnsupportedCompression => AppendStatus.UnsupportedCompression,
        BatchFormatError.UnsupportedMagic => AppendStatus.UnsupportedMagic,
        _ => AppendStatus.InvalidRecord,
    };

    private string DescribeFormatError(BatchFormatError error, int length, in RecordBatchHeader header) => error switch
    {
        BatchFormatError.InvalidLength => $"The {length} bytes received are not exactly one record batch (batchLength {header.BatchLength}).",
        BatchFormatError.UnsupportedMagic => $"Record batch magic {header.Magic} is not supported; only magic 2.",
        BatchFormatError.CrcMismatch => "The record batch failed its CRC-32C check.",
        BatchFormatError.TooLarge => $"The record batch is {length} bytes, larger than max.message.bytes {_options.MaxMessageBytes}.",
        BatchFormatError.UnsupportedCompression => $"Compression {header.Compression} is not supported yet; send uncompressed batches.",
        BatchFormatError.InvalidRecords => $"The records section does not decode to the {header.RecordCount} records the header announces.",
        _ => "The record batch header is inconsistent (record count, last offset delta, producer epoch or sequence, or a control batch).",
    };

    private async ValueTask TrySnapshotAfterAppendAsync(CancellationToken cancellationToken)
    {
        long offset = _store.LogEndOffset;
        try
        {
            await WriteSnapshotAsync(offset, cancellationToken);
        }
        catch (LogFencedException ex)
        {
            // Another writer owns the partition: the append itself succeeded, but nothing more may be written here.
            MarkFaulted(ex, "snapshot", offset);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The batch is stored and acknowledged; a missing snapshot only lengthens the next recovery.
            _snapshotPending = true;
            PartitionLogLog.SnapshotWriteFailed(_logger, ex, offset);
        }
    }

    /// <summary>
    /// Takes a producer-state snapshot now (the state at the log end offset, in memory) and writes it in the background, through a store
    /// that allows it (<see cref="ILogStore.CanSnapshotConcurrently"/>); when one is still being written, the next append tries again.
    /// A failure is logged and retried after a later append, as in <see cref="TrySnapshotAfterAppendAsync"/>.
    /// </summary>
    private void StartBackgroundSnapshot()
    {
        if (_backgroundSnapshot is { IsCompleted: false })
        {
            _snapshotPending = true;
            return;
        }

        long offset = _store.LogEndOffset;
        byte[] snapshot = _state.CreateSnapshot(offset);
        int producers = _state.ProducerCount;
        _bytesSinceSnapshot = 0;
        _snapshotPending = false;
        _backgroundSnapshot = WriteInBackgroundAsync();

        async Task WriteInBackgroundAsync()
        {
            try
            {
                // The store takes what it needs synchronously, before its first await (CanSnapshotConcurrently).
                await _store.WriteProducerSnapshotInBackgroundAsync(offset, snapshot);
                PartitionLogLog.SnapshotWritten(_logger, offset, producers, snapshot.Length);
            }
            catch (LogFencedException ex)
            {
                MarkFaulted(ex, "snapshot", offset);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _snapshotPending = true;
                PartitionLogLog.SnapshotWriteFailed(_logger, ex, offset);
            }
        }
    }

    /// <summary>Waits for a background snapshot (its failure was already handled), before a flush, a checkpoint or closing the store.</summary>
    private async ValueTask WaitForBackgroundSnapshotAsync()
    {
        if (_backgroundSnapshot is { } pending)
        {
            _backgroundSnapshot = null;
            await pending;
        }
    }

    private async ValueTask WriteSnapshotAsync(long offset, CancellationToken cancellationToken)
    {
        byte[] snapshot = _state.CreateSnapshot(offset);
        await _store.WriteProducerSnapshotAsync(offset, snapshot, cancellationToken);
        _bytesSinceSnapshot = 0;
        _snapshotPending = false;
        PartitionLogLog.SnapshotWritten(_logger, offset, _state.ProducerCount, snapshot.Length);
    }

    private void MarkFaulted(Exception exception, string operation, long logEndOffset)
    {
        _faulted = true;
        PartitionLogLog.StoreFailed(_logger, exception, operation, logEndOffset);
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faulted)
        {
            throw new InvalidOperationException("The partition log is faulted after a storage failure; dispose it and open the partition again.");
        }
    }
}
