using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Log.Storage;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log;

/// <summary>
/// The embedded log store: Kafka's on-disk layout in one directory per partition. Segment files
/// <c>{baseOffset:D20}.log</c> hold batches back to back; <c>{baseOffset:D20}.index</c> maps relative offsets to positions
/// every <see cref="PartitionLogOptions.IndexIntervalBytes"/>; <c>{offset:D20}.snapshot</c> holds producer-state snapshots;
/// <c>.lock</c> is held exclusively while the store is open (single writer).
/// </summary>
/// <remarks>
/// <para>
/// Single writer: <see cref="OpenAsync"/> opens <c>.lock</c> with <see cref="FileShare.None"/>, which .NET turns into an exclusive
/// <c>flock</c> on Unix and a share-mode lock on Windows; a second store on the same directory, in this process or another, gets
/// <see cref="LogFencedException"/>. The lock is released by <see cref="DisposeAsync"/> or by the process ending. Opening fails with
/// <see cref="LogStorageException"/> when .NET file locking is switched off (<c>System.IO.DisableFileLocking</c>). On file systems
/// where <c>flock</c> is not supported (some network shares) .NET silently skips the lock, and the guarantee is gone: keep data
/// directories on local disks.
/// </para>
/// <para>
/// Flush policy (Kafka's <c>flush.messages</c> and <c>flush.ms</c>): every append is handed to the OS before
/// <see cref="AppendAsync"/> completes (it survives a process crash, not a power loss). With
/// <see cref="PartitionLogOptions.FlushMessages"/> = N the segment is fsynced every N batches. With
/// <see cref="PartitionLogOptions.FlushInterval"/> it is fsynced by the append that finds the oldest unflushed batch at least that old
/// (measured with the <see cref="TimeProvider"/>). There is no timer: when appends stop, the last batches stay unflushed until the next
/// append, <see cref="FlushAsync"/>, a segment roll or <see cref="DisposeAsync"/>, each of which fsyncs.
/// </para>
/// <para>
/// Recovery (<see cref="OpenAsync"/>) scans the last segment batch by batch (magic, length, base offset contiguous with the previous
/// batch, CRC-32C) and truncates everything from the first bad batch on; the last segment's index is rebuilt from that scan. The scan
/// starts at the recovery point (file <c>recovery-point</c>, Kafka's recovery-point checkpoint), moved to the log end with the index by
/// <see cref="DisposeAsync"/> and <see cref="WriteProducerSnapshotAsync"/> (after an fsync: it holds after any crash) and by every
/// periodic snapshot (<see cref="WriteProducerSnapshotInBackgroundAsync"/>, without an fsync: it holds while the operating system that
/// wrote it is still up, i.e. after a crash of the process, and is ignored after a reboot). So reopening costs the bytes appended
/// since the last snapshot or clean close, not the segment size. The recovery point is checked against the files (its last batch's
/// header and CRC, the index) and ignored, with a scan of the whole segment, when anything disagrees. Earlier
/// segments were fsynced when the log rolled past them: they are not scanned, and their index files are used when they pass a sanity
/// check (else rebuilt). A corrupt earlier segment is not truncated (that would drop acknowledged data): opening fails.
/// </para>
/// <para>
/// Reads use positional reads on their own handles and stop at the size of whole batches already written, so a read running during an
/// append never sees a partial batch. Appends, flushes and snapshots are one caller at a time.
/// </para>
/// </remarks>
public sealed class FileLogStore : ILogStore
{
    private const int StateCreated = 0;
    private const int StateOpen = 1;
    private const int StateFaulted = 2;
    private const int StateDisposed = 3;

    private const int SnapshotsKept = 2;

    private readonly string _directory;
    private readonly PartitionLogOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private FileStream? _lock;
    private LogSegment[] _segments = [];
    private long _logStartOffset;
    private long _logEndOffset;
    private int _state;
    private long _unflushedBatches;
    private long _oldestUnflushedTimestamp;
    private long _fsyncCount;
    private long _lastBatchPosition = -1;

    /// <summary>Orders index and recovery-point writes of a background checkpoint with those of a roll or close.</summary>
    private readonly Lock _checkpointSync = new();

    /// <summary>Creates a store over <paramref name="directory"/>; nothing is touched until <see cref="OpenAsync"/>.</summary>
    /// <param name="directory">The partition's directory; created when missing. Made absolute once with <see cref="Path.GetFullPath(string)"/>.</param>
    /// <param name="options">Segment size, index interval and flush policy.</param>
    /// <param name="timeProvider">Clock for <see cref="PartitionLogOptions.FlushInterval"/>.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty, or an option is out of range (segment smaller than a batch header,
    /// negative index interval, flush messages below 1, negative flush interval).</exception>
    public FileLogStore(string directory, PartitionLogOptions options, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (options.SegmentBytes < RecordBatchHeader.Size)
        {
            throw new ArgumentException($"SegmentBytes must be at least {RecordBatchHeader.Size} bytes; it is {options.SegmentBytes}.", nameof(options));
        }

        if (options.IndexIntervalBytes < 0)
        {
            throw new ArgumentException($"IndexIntervalBytes must not be negative; it is {options.IndexIntervalBytes}.", nameof(options));
        }

        if (options.FlushMessages < 1)
        {
            throw new ArgumentException($"FlushMessages must be at least 1 or null; it is {options.FlushMessages}.", nameof(options));
        }

        if (options.FlushInterval < TimeSpan.Zero)
        {
            throw new ArgumentException($"FlushInterval must not be negative; it is {options.FlushInterval}.", nameof(options));
        }

        _directory = Path.GetFullPath(directory);
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The partition's directory, as an absolute path.</summary>
    public string DirectoryPath => _directory;

    /// <inheritdoc />
    public long LogStartOffset => Volatile.Read(ref _logStartOffset);

    /// <inheritdoc />
    public long LogEndOffset => Volatile.Read(ref _logEndOffset);

    /// <summary>Test seam for the segment write path (fault injection). Set before <see cref="OpenAsync"/>.</summary>
    internal ILogFileIo FileIo { get; init; } = DefaultLogFileIo.Instance;

    /// <summary>How many times segment data was fsynced (flush policy, <see cref="FlushAsync"/>, roll, close).</summary>
    internal long FsyncCount => Interlocked.Read(ref _fsyncCount);

    /// <inheritdoc />
    /// <remarks>True: <see cref="WriteProducerSnapshotAsync"/> takes the recovery point before its first await and does its fsyncs on the
    /// thread pool, through handles of its own.</remarks>
    public bool CanSnapshotConcurrently => true;

    /// <summary>Bytes of the active segment <see cref="OpenAsync"/> scanned (after the recovery point, or all of it without one).</summary>
    internal long ScannedBytes { get; private set; }

    /// <summary>Segments currently in the log.</summary>
    internal int SegmentCount => Volatile.Read(ref _segments).Length;

    /// <inheritdoc />
    /// <remarks>An empty directory gets its first segment, <c>00000000000000000000.log</c>: log start and end offset 0.</remarks>
    public ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_state == StateDisposed, this);
        if (_state != StateCreated)
        {
            throw new InvalidOperationException($"The store for '{_directory}' is already open.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            LogRecoveryInfo info = Recover(cancellationToken);
            _state = StateOpen;
            return ValueTask.FromResult(info);
        }
        catch (Exception ex) when ((ex is IOException && ex is not LogStorageException) || ex is UnauthorizedAccessException)
        {
            ReleaseAll();
            throw StorageFailure("Opening partition log", _directory, ex);
        }
        catch
        {
            ReleaseAll();
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The bytes must already have passed <see cref="RecordBatch.Validate"/>: the store checks only that they agree with
    /// <paramref name="header"/> (base offset, length, last offset delta, magic), not the CRC, and recovery truncates the log from the
    /// first batch whose CRC fails. Rolls first when the active segment is not empty and the batch would take it past <see cref="PartitionLogOptions.SegmentBytes"/>
    /// (or its offsets past int32 relative offsets); the rolled segment is fsynced and its index written. Cancellation is observed only
    /// before the write starts: a started write completes or fails. After any failure the store refuses appends
    /// (<see cref="InvalidOperationException"/>) until it is disposed and a new one is opened.
    /// </remarks>
    /// <exception cref="ArgumentException">The header's base offset is not <see cref="LogEndOffset"/>, the bytes are not
    /// <c>header.TotalSize</c> long, or their base offset, batch length or last offset delta disagree with the header.</exception>
    /// <exception cref="InvalidOperationException">The store is not open, or an earlier append or flush failed.</exception>
    public async ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default)
    {
        ThrowIfNotWritable();
        long logEndOffset = _logEndOffset;
        if (header.BaseOffset != logEndOffset)
        {
            throw new ArgumentException($"The batch's base offset {header.BaseOffset} is not the log end offset {logEndOffset}.", nameof(header));
        }

        if (batch.Length < RecordBatchHeader.Size || batch.Length != header.TotalSize)
        {
            throw new ArgumentException($"The batch is {batch.Length} bytes; its header says {header.TotalSize}.", nameof(batch));
        }

        if (header.LastOffsetDelta < 0)
        {
            throw new ArgumentException($"The batch's last offset delta {header.LastOffsetDelta} is negative.", nameof(header));
        }

        _ = RecordBatchHeader.TryRead(batch.Span, out RecordBatchHeader stored);
        if (stored.BaseOffset != header.BaseOffset)
        {
            throw new ArgumentException(
                $"The batch bytes carry base offset {stored.BaseOffset} but the header says {header.BaseOffset}; write it with RecordBatch.SetBaseOffset first.",
                nameof(batch));
        }

        if (stored.BatchLength != header.BatchLength || stored.LastOffsetDelta != header.LastOffsetDelta || stored.Magic != RecordBatchHeader.CurrentMagic)
        {
            throw new ArgumentException(
                $"The batch bytes (length {stored.BatchLength}, last offset delta {stored.LastOffsetDelta}, magic {stored.Magic}) disagree with the header or are not magic 2.",
                nameof(batch));
        }

        cancellationToken.ThrowIfCancellationRequested();
        LogSegment active = _segments[^1];
        bool rolled = false;
        try
        {
            if (active.Size > 0
                && (active.Size + batch.Length > _options.SegmentBytes || header.LastOffset - active.BaseOffset > int.MaxValue))
            {
                active = Roll(header.BaseOffset);
                rolled = true;
            }

            long position = active.Size;
            await FileIo.WriteAsync(active.Writer!, batch, CancellationToken.None).ConfigureAwait(false);
            if (active.BytesSinceLastIndexEntry > _options.IndexIntervalBytes)
            {
                active.Index.Append((int)(header.BaseOffset - active.BaseOffset), (int)position);
                active.BytesSinceLastIndexEntry = 0;
            }

            active.BytesSinceLastIndexEntry += batch.Length;
            ApplyFlushPolicy(active);
            active.Commit(position + batch.Length);
            _lastBatchPosition = position;
            Volatile.Write(ref _logEndOffset, header.LastOffset + 1);
            return rolled;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _state = StateFaulted;
            _logger.StorageFailed(_directory, ex);
            throw StorageFailure("Appending to", active.LogPath, ex);
        }
        catch
        {
            _state = StateFaulted;
            throw;
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The store is not open.</exception>
    /// <exception cref="LogStorageException">Reading failed, or the segment is corrupt where it was read.</exception>
    public ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        long logStartOffset = LogStartOffset;
        long logEndOffset = LogEndOffset;
        if (offset < logStartOffset || offset > logEndOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The log holds offsets [{logStartOffset}, {logEndOffset}).");
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (offset == logEndOffset)
        {
            return ValueTask.FromResult(ReadOnlyMemory<byte>.Empty);
        }

        LogSegment[] segments = Volatile.Read(ref _segments);
        try
        {
            return ValueTask.FromResult(Read(segments, offset, maxBytes));
        }
        catch (Exception ex) when ((ex is IOException && ex is not LogStorageException) || ex is UnauthorizedAccessException)
        {
            throw StorageFailure("Reading partition log", _directory, ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>Reads only each batch's 61-byte header (one positional read per batch), starting at the index entry before
    /// <paramref name="fromOffset"/>; stops at the log end offset seen when the enumeration starts.</remarks>
    /// <exception cref="InvalidOperationException">The store is not open (thrown when enumeration starts).</exception>
    /// <exception cref="LogStorageException">Reading failed, or a segment is corrupt.</exception>
    public async IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        LogSegment[] segments = Volatile.Read(ref _segments);
        long logEndOffset = LogEndOffset;
        if (fromOffset >= logEndOffset)
        {
            yield break;
        }

        byte[] buffer = new byte[RecordBatchHeader.Size];
        int i = FindSegment(segments, fromOffset);
        long position = fromOffset > segments[i].BaseOffset ? segments[i].Index.Lookup(fromOffset - segments[i].BaseOffset) : 0;
        for (; i < segments.Length; i++, position = 0)
        {
            LogSegment segment = segments[i];
            long size = segment.Size;
            while (position < size)
            {
                cancellationToken.ThrowIfCancellationRequested();
                RecordBatchHeader header = ReadHeader(segment, position, size, buffer);
                if (header.BaseOffset >= logEndOffset)
                {
                    yield break;
                }

                if (header.LastOffset >= fromOffset)
                {
                    yield return header;
                }

                position += header.TotalSize;
            }
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The store is not open, or an earlier append or flush failed.</exception>
    /// <exception cref="LogStorageException">The fsync failed; the store refuses further appends.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfNotWritable();
        cancellationToken.ThrowIfCancellationRequested();
        if (_unflushedBatches == 0)
        {
            return ValueTask.CompletedTask;
        }

        LogSegment active = _segments[^1];
        try
        {
            Fsync(active);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _state = StateFaulted;
            _logger.StorageFailed(_directory, ex);
            throw StorageFailure("Flushing", active.LogPath, ex);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>First fsyncs the active segment (when anything is unflushed), writes its index and moves the recovery point to the log
    /// end. Then writes <c>{offset:D20}.snapshot.tmp</c>, fsyncs it, renames it over <c>{offset:D20}.snapshot</c>, fsyncs the directory
    /// (on Unix), and deletes all but the two newest snapshots. A failed fsync faults the store (<see cref="LogStorageException"/>).</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative or past <see cref="LogEndOffset"/>.</exception>
    /// <exception cref="InvalidOperationException">The store is not open, or an earlier append or flush failed.</exception>
    /// <exception cref="LogStorageException">Writing failed (the previous snapshots are untouched).</exception>
    public ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default) =>
        WriteSnapshotAsync(offset, snapshot, durable: true, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Like <see cref="WriteProducerSnapshotAsync"/> without any fsync: the index and a recovery point valid while this boot lasts (see
    /// <see cref="RecoveryPoint.Durable"/>), then the snapshot file (temp and rename). An fsync here would make appends wait for the
    /// journal commit and the device cache flush it forces: profiled at tens of ms per snapshot, every 64 MiB per partition.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative or past <see cref="LogEndOffset"/>.</exception>
    /// <exception cref="InvalidOperationException">The store is not open, or an earlier append or flush failed.</exception>
    /// <exception cref="LogStorageException">Writing failed (the previous snapshots are untouched).</exception>
    public ValueTask WriteProducerSnapshotInBackgroundAsync(long offset, ReadOnlyMemory<byte> snapshot) =>
        WriteSnapshotAsync(offset, snapshot, durable: false, CancellationToken.None);

    private async ValueTask WriteSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, bool durable, CancellationToken cancellationToken)
    {
        ThrowIfNotWritable();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, LogEndOffset);
        cancellationToken.ThrowIfCancellationRequested();

        // Synchronous part, while no append can run: where the recovery point will be. The I/O then runs on the thread pool, off the
        // caller's context, so appends may go on meanwhile (CanSnapshotConcurrently).
        LogSegment active = _segments[^1];
        RecoveryPoint point = CurrentRecoveryPoint(active, durable);
        await Task.Run(() => CheckpointSegment(active, point), CancellationToken.None).ConfigureAwait(false);
        string path = LogFileNames.Snapshot(_directory, offset);
        string temporary = LogFileNames.SnapshotTemp(_directory, offset);
        try
        {
            var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(snapshot, cancellationToken).ConfigureAwait(false);
                if (durable)
                {
                    stream.Flush(flushToDisk: true);
                }
            }

            File.Move(temporary, path, overwrite: true);
            if (durable)
            {
                _ = DirectorySync.TryFsync(_directory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary, "failed snapshot write");
            throw StorageFailure("Writing producer-state snapshot", path, ex);
        }
        catch (OperationCanceledException)
        {
            TryDelete(temporary, "cancelled snapshot write");
            throw;
        }

        _logger.SnapshotWritten(path, snapshot.Length);
        List<long> offsets = ListSnapshots();
        offsets.Sort();
        for (int i = 0; i < offsets.Count - SnapshotsKept; i++)
        {
            TryDelete(LogFileNames.Snapshot(_directory, offsets[i]), "older than the two newest snapshots");
        }
    }

    /// <inheritdoc />
    /// <remarks>Stray <c>.tmp</c> files of an interrupted write are never returned (and are deleted by <see cref="OpenAsync"/>, as are
    /// snapshots past the log end offset after a truncation).</remarks>
    /// <exception cref="InvalidOperationException">The store is not open (thrown when enumeration starts).</exception>
    /// <exception cref="LogStorageException">Reading a snapshot failed.</exception>
    public async IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        long logEndOffset = LogEndOffset;
        List<long> offsets = ListSnapshots();
        offsets.Sort();
        offsets.Reverse();
        foreach (long offset in offsets)
        {
            if (offset > logEndOffset)
            {
                continue;
            }

            byte[]? bytes = await ReadSnapshotAsync(LogFileNames.Snapshot(_directory, offset), cancellationToken).ConfigureAwait(false);
            if (bytes is not null)
            {
                yield return (offset, bytes);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Unless an append failed earlier: fsyncs unflushed batches, writes the active segment's index and moves the recovery point
    /// to the log end (the next open scans nothing). Then closes every file
    /// and releases the writer lock, also when that fsync failed, in which case it throws <see cref="LogStorageException"/> afterwards.
    /// Safe to call twice.</remarks>
    public ValueTask DisposeAsync()
    {
        int previous = _state;
        if (previous == StateDisposed)
        {
            return ValueTask.CompletedTask;
        }

        _state = StateDisposed;
        LogStorageException? failure = null;
        if (previous == StateOpen)
        {
            LogSegment active = _segments[^1];
            try
            {
                if (_unflushedBatches > 0)
                {
                    Fsync(active);
                }

                lock (_checkpointSync)
                {
                    active.Index.WriteTo(active.IndexPath);
                    CurrentRecoveryPoint(active, durable: true).Write(_directory);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.StorageFailed(_directory, ex);
                failure = StorageFailure("Closing", active.LogPath, ex);
            }
        }

        ReleaseAll();
        return failure is null ? ValueTask.CompletedTask : ValueTask.FromException(failure);
    }

    private static LogStorageException StorageFailure(string operation, string path, Exception exception)
    {
        string diskFull = IsDiskFull(exception) ? "yes" : "no";
        return new LogStorageException($"{operation} '{path}' failed (disk full: {diskFull}): {exception.Message}", exception);
    }

    /// <summary>ENOSPC is errno 28 on Linux and macOS (.NET puts the errno in <see cref="Exception.HResult"/>); Windows reports
    /// ERROR_DISK_FULL (112) or ERROR_HANDLE_DISK_FULL (39) as HRESULTs.</summary>
    private static bool IsDiskFull(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException && (e.HResult == 28 || e.HResult == unchecked((int)0x80070070) || e.HResult == unchecked((int)0x80070027)))
            {
                return true;
            }

            if (e.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The lock is held by someone else: EWOULDBLOCK from <c>flock</c> (11 on Linux, 35 on macOS/BSD), or a Windows sharing or lock violation.</summary>
    private static bool IsLockConflict(IOException exception) =>
        exception.GetType() == typeof(IOException)
        && (OperatingSystem.IsWindows()
            ? exception.HResult is unchecked((int)0x80070020) or unchecked((int)0x80070021)
            : exception.HResult is 11 or 35);

    private static bool FileLockingDisabled()
    {
        if (AppContext.TryGetSwitch("System.IO.DisableFileLocking", out bool disabled) && disabled)
        {
            return true;
        }

        string? variable = Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING");
        return variable is not null && (variable == "1" || variable.Equals("true", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Index of the last segment whose base offset is at most <paramref name="offset"/>; 0 when the offset is before all.</summary>
    private static int FindSegment(LogSegment[] segments, long offset)
    {
        int lo = 0;
        int hi = segments.Length - 1;
        int found = 0;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (segments[mid].BaseOffset <= offset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    private static RecordBatchHeader ReadHeader(LogSegment segment, long position, long size, byte[] buffer)
    {
        try
        {
            return segment.ReadHeader(position, size, buffer);
        }
        catch (Exception ex) when ((ex is IOException && ex is not LogStorageException) || ex is UnauthorizedAccessException)
        {
            throw StorageFailure("Reading", segment.LogPath, ex);
        }
    }

    private static ReadOnlyMemory<byte> Read(LogSegment[] segments, long offset, int maxBytes)
    {
        byte[] headerBuffer = new byte[RecordBatchHeader.Size];
        int first = FindSegment(segments, offset);
        long start = -1;
        int firstSize = 0;
        for (; first < segments.Length; first++)
        {
            LogSegment segment = segments[first];
            (long Position, RecordBatchHeader Header)? found = segment.FindBatch(offset, segment.Size, headerBuffer);
            if (found is { } hit)
            {
                start = hit.Position;
                firstSize = hit.Header.TotalSize;
                break;
            }
        }

        if (start < 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        // Read whole segment tails up to the budget in one positional read each, then cut at the last whole batch.
        long budget = Math.Max(maxBytes, firstSize);
        var ranges = new List<(LogSegment Segment, long Position, int Length)>();
        long total = 0;
        for (int i = first; i < segments.Length && total < budget; i++)
        {
            LogSegment segment = segments[i];
            long position = i == first ? start : 0;
            long length = Math.Min(segment.Size - position, budget - total);
            if (length > 0)
            {
                ranges.Add((segment, position, (int)length));
                total += length;
            }
        }

        // Read into a pooled buffer and hand out an array of exactly the whole batches: one allocation per fetch, and the caller can pass
        // the array on without copying it again.
        int readBytes = (int)total;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(readBytes);
        try
        {
            int filled = 0;
            foreach ((LogSegment segment, long position, int length) in ranges)
            {
                LogSegment.ReadExactly(segment.ReadHandle, buffer.AsSpan(filled, length), position);
                filled += length;
            }

            int cut = 0;
            while (cut + RecordBatchHeader.LogOverhead <= readBytes)
            {
                int batchLength = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(cut + BatchLayout.BatchLengthOffset));
                if (batchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead)
                {
                    throw new LogStorageException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"Partition log is corrupt: a batch at byte {cut} of a read from offset {offset} has length {batchLength}."));
                }

                if ((long)cut + batchLength + RecordBatchHeader.LogOverhead > readBytes)
                {
                    break;
                }

                cut += batchLength + RecordBatchHeader.LogOverhead;
            }

            return buffer.AsSpan(0, cut).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private LogRecoveryInfo Recover(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_directory);
        AcquireLock();
        var segments = new List<LogSegment>();
        try
        {
            List<long> baseOffsets = ListFiles(LogFileNames.LogSuffix);
            baseOffsets.Sort();
            long logEndOffset;
            long truncatedBytes = 0;
            if (baseOffsets.Count == 0)
            {
                segments.Add(CreateSegment(0));
                logEndOffset = 0;
            }
            else
            {
                for (int i = 0; i < baseOffsets.Count - 1; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    segments.Add(LoadSealedSegment(baseOffsets[i], cancellationToken));
                }

                cancellationToken.ThrowIfCancellationRequested();
                (LogSegment active, logEndOffset, truncatedBytes) = RecoverActiveSegment(baseOffsets[^1], cancellationToken);
                segments.Add(active);
            }

            _segments = [.. segments];
            _logStartOffset = segments[0].BaseOffset;
            _logEndOffset = logEndOffset;
            _unflushedBatches = 0;
            CleanSnapshots(logEndOffset);
            _logger.Recovered(_directory, segments.Count, _logStartOffset, logEndOffset, truncatedBytes);
            return new LogRecoveryInfo(_logStartOffset, logEndOffset, segments.Count, truncatedBytes);
        }
        catch
        {
            foreach (LogSegment segment in segments)
            {
                segment.Dispose();
            }

            _segments = [];
            throw;
        }
    }

    private void AcquireLock()
    {
        string path = Path.Combine(_directory, LogFileNames.LockFileName);
        if (FileLockingDisabled())
        {
            throw new LogStorageException(
                $"Cannot open partition log '{_directory}': .NET file locking is disabled (System.IO.DisableFileLocking), and the single-writer lock on '{path}' needs it.");
        }

        try
        {
            _lock = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException ex) when (IsLockConflict(ex))
        {
            throw new LogFencedException($"Partition log '{_directory}' is held by another writer (lock file '{path}').", ex);
        }

        // For operators: which process holds the lock.
        _lock.SetLength(0);
        _lock.Write(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}\n")));
    }

    private LogSegment LoadSealedSegment(long baseOffset, CancellationToken cancellationToken)
    {
        string logPath = LogFileNames.Log(_directory, baseOffset);
        string indexPath = LogFileNames.Index(_directory, baseOffset);
        long size = new FileInfo(logPath).Length;
        OffsetIndex? index = OffsetIndex.TryLoad(indexPath, size);
        var segment = new LogSegment(baseOffset, logPath, indexPath, index ?? new OffsetIndex(), size);
        try
        {
            if (index is not null && IsIndexTrusted(segment, size))
            {
                return segment;
            }

            SegmentScanResult scan = SegmentScanner.Scan(segment.ReadHandle, size, baseOffset, _options.IndexIntervalBytes, verifyCrc: false, cancellationToken);
            if (scan.StopReason is not null)
            {
                throw new LogStorageException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Segment '{logPath}' is corrupt at position {scan.ValidBytes} ({scan.StopReason}). It is not the last segment, so it is not truncated: repair or remove it."));
            }

            segment.Recovered(scan.Index, size, 0);
            scan.Index.WriteTo(indexPath);
            _logger.IndexRebuilt(indexPath, scan.Index.Count);
            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An index file read from disk is used when its first batch and last entry point at the right base offsets and it is not short:
    /// after the last entry there can be at most one index interval plus one batch.
    /// </summary>
    private bool IsIndexTrusted(LogSegment segment, long size)
    {
        if (size == 0)
        {
            return segment.Index.Count == 0;
        }

        if (!segment.BaseOffsetAt(0, size, segment.BaseOffset))
        {
            return false;
        }

        if (segment.Index.Last is { } last && !segment.BaseOffsetAt(last.Position, size, segment.BaseOffset + last.RelativeOffset))
        {
            return false;
        }

        return size - segment.LastIndexedPosition <= (long)_options.IndexIntervalBytes + _options.MaxMessageBytes;
    }

    private (LogSegment Segment, long LogEndOffset, long TruncatedBytes) RecoverActiveSegment(long baseOffset, CancellationToken cancellationToken)
    {
        string logPath = LogFileNames.Log(_directory, baseOffset);
        string indexPath = LogFileNames.Index(_directory, baseOffset);
        FileStream writer = LogSegment.OpenWriter(logPath, FileMode.Open);
        var segment = new LogSegment(baseOffset, logPath, indexPath, new OffsetIndex(), 0);
        segment.AttachWriter(writer);
        try
        {
            long length = writer.Length;
            ScanStart? start = TrustedPrefix(segment, length);
            SegmentScanResult scan = SegmentScanner.Scan(segment.ReadHandle, length, baseOffset, _options.IndexIntervalBytes, verifyCrc: true, cancellationToken, start);
            segment.Recovered(scan.Index, scan.ValidBytes, scan.BytesSinceLastIndexEntry);
            _lastBatchPosition = scan.LastBatchPosition;
            ScannedBytes = scan.ValidBytes - (start?.Position ?? 0);
            long truncated = length - scan.ValidBytes;
            if (truncated > 0)
            {
                writer.SetLength(scan.ValidBytes);
                writer.Flush(flushToDisk: true);
                _logger.TailTruncated(logPath, scan.ValidBytes, truncated, scan.StopReason ?? "trailing bytes", scan.NextOffset);
            }

            writer.Position = scan.ValidBytes;
            return (segment, scan.NextOffset, truncated);
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    private LogSegment CreateSegment(long baseOffset)
    {
        string logPath = LogFileNames.Log(_directory, baseOffset);
        string indexPath = LogFileNames.Index(_directory, baseOffset);
        FileStream writer = LogSegment.OpenWriter(logPath, FileMode.CreateNew);
        var segment = new LogSegment(baseOffset, logPath, indexPath, new OffsetIndex(), 0);
        segment.AttachWriter(writer);
        if (File.Exists(indexPath))
        {
            TryDelete(indexPath, "stale index of a new segment");
        }

        _ = DirectorySync.TryFsync(_directory);
        return segment;
    }

    private LogSegment Roll(long baseOffset)
    {
        LogSegment[] segments = _segments;
        LogSegment previous = segments[^1];
        Fsync(previous);
        lock (_checkpointSync)
        {
            previous.Rolled = true;
            previous.Index.WriteTo(previous.IndexPath);
        }

        previous.CloseWriter();
        LogSegment next = CreateSegment(baseOffset);
        _lastBatchPosition = -1;
        Volatile.Write(ref _segments, [.. segments, next]);
        _logger.SegmentRolled(_directory, baseOffset);
        return next;
    }

    private void ApplyFlushPolicy(LogSegment active)
    {
        _unflushedBatches++;
        if (_options.FlushMessages is long messages && _unflushedBatches >= messages)
        {
            Fsync(active);
            return;
        }

        if (_options.FlushInterval is TimeSpan interval)
        {
            long now = _timeProvider.GetTimestamp();
            if (_unflushedBatches == 1)
            {
                _oldestUnflushedTimestamp = now;
            }

            if (_timeProvider.GetElapsedTime(_oldestUnflushedTimestamp, now) >= interval)
            {
                Fsync(active);
            }
        }
    }

    /// <summary>
    /// Fsyncs <paramref name="segment"/> (through a handle of its own, so appends on the writer can go on), writes the first
    /// <see cref="RecoveryPoint.IndexEntries"/> entries of its index and moves the <see cref="RecoveryPoint"/> to <paramref name="point"/>:
    /// the next open scans only what was appended after it. Runs before every producer-state snapshot, so a snapshot is never newer
    /// than the recovery point and reopening costs the tail after the last snapshot (Kafka: the recovery point is checkpointed with the
    /// log flush). Skipped when the segment was rolled meanwhile (the roll fsynced it and wrote its whole index) or the store is closing.
    /// </summary>
    private void CheckpointSegment(LogSegment segment, RecoveryPoint point)
    {
        lock (_checkpointSync)
        {
            if (segment.Rolled || _state != StateOpen)
            {
                return;
            }

            try
            {
                if (point.Durable)
                {
                    using (FileStream handle = LogSegment.OpenWriter(segment.LogPath, FileMode.Open))
                    {
                        FileIo.FlushToDisk(handle);
                    }

                    Interlocked.Increment(ref _fsyncCount);
                }

                segment.Index.WriteTo(segment.IndexPath, point.IndexEntries, flushToDisk: point.Durable);
                point.Write(_directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // An fsync that failed leaves the page cache in an unknown state: no more appends from this store.
                _state = StateFaulted;
                _logger.StorageFailed(_directory, ex);
                throw StorageFailure("Checkpointing", segment.LogPath, ex);
            }
        }
    }

    private RecoveryPoint CurrentRecoveryPoint(LogSegment active, bool durable) =>
        new(active.BaseOffset, active.Size, _logEndOffset, _lastBatchPosition, active.BytesSinceLastIndexEntry, active.Index.Count, RecoveryPoint.CurrentBootId, durable);

    /// <summary>
    /// The prefix of the active segment the recovery point vouches for, after checking it against the files: same segment, not past the
    /// file's end, the last batch before it where it says (header and CRC), the index file holding at least its entries and its last entry
    /// pointing at the right batch. <c>null</c> (scan everything) when anything disagrees.
    /// </summary>
    private ScanStart? TrustedPrefix(LogSegment segment, long length)
    {
        if (RecoveryPoint.TryRead(_directory) is not { } point
            || !point.IsTrustedNow
            || point.SegmentBaseOffset != segment.BaseOffset
            || point.Position > length)
        {
            return null;
        }

        if (point.Position == 0)
        {
            return new ScanStart(0, segment.BaseOffset, -1, new OffsetIndex(), 0);
        }

        try
        {
            if (OffsetIndex.TryLoad(segment.IndexPath, length) is not { } onDisk || onDisk.Count < point.IndexEntries)
            {
                return null;
            }

            OffsetIndex index = onDisk.Prefix(point.IndexEntries);
            if (index.Last is { } last && (last.Position >= point.Position || !segment.BaseOffsetAt(last.Position, length, segment.BaseOffset + last.RelativeOffset)))
            {
                return null;
            }

            byte[] header = new byte[RecordBatchHeader.Size];
            LogSegment.ReadExactly(segment.ReadHandle, header, point.LastBatchPosition);
            if (!RecordBatchHeader.TryRead(header, out RecordBatchHeader batch)
                || batch.Magic != RecordBatchHeader.CurrentMagic
                || point.LastBatchPosition + batch.TotalSize != point.Position
                || batch.LastOffset + 1 != point.NextOffset)
            {
                return null;
            }

            byte[] bytes = new byte[batch.TotalSize];
            LogSegment.ReadExactly(segment.ReadHandle, bytes, point.LastBatchPosition);
            if (Crc32C.Compute(bytes.AsSpan(BatchLayout.CrcRangeStart)) != batch.Crc)
            {
                return null;
            }

            return new ScanStart(point.Position, point.NextOffset, point.LastBatchPosition, index, point.BytesSinceLastIndexEntry);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            return null;
        }
    }

    private void Fsync(LogSegment segment)
    {
        FileIo.FlushToDisk(segment.Writer!);
        Interlocked.Increment(ref _fsyncCount);
        _unflushedBatches = 0;
    }

    private void CleanSnapshots(long logEndOffset)
    {
        foreach (string path in Directory.EnumerateFiles(_directory, "*" + LogFileNames.SnapshotSuffix + LogFileNames.TempSuffix))
        {
            TryDelete(path, "interrupted snapshot write");
        }

        foreach (long offset in ListSnapshots())
        {
            if (offset > logEndOffset)
            {
                TryDelete(LogFileNames.Snapshot(_directory, offset), "snapshot past the log end offset");
            }
        }
    }

    private List<long> ListSnapshots() => ListFiles(LogFileNames.SnapshotSuffix);

    private List<long> ListFiles(string suffix)
    {
        var offsets = new List<long>();
        foreach (string path in Directory.EnumerateFiles(_directory, "*" + suffix))
        {
            if (LogFileNames.TryParse(Path.GetFileName(path), suffix, out long offset))
            {
                offsets.Add(offset);
            }
        }

        return offsets;
    }

    private static async ValueTask<byte[]?> ReadSnapshotAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw StorageFailure("Reading producer-state snapshot", path, ex);
        }
    }

    private void TryDelete(string path, string reason)
    {
        try
        {
            File.Delete(path);
            _logger.FileDeleted(path, reason);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.DeleteFailed(path, ex);
        }
    }

    private void ReleaseAll()
    {
        foreach (LogSegment segment in Interlocked.Exchange(ref _segments, []))
        {
            segment.Dispose();
        }

        _lock?.Dispose();
        _lock = null;
    }

    private void ThrowIfNotOpen()
    {
        ObjectDisposedException.ThrowIf(_state == StateDisposed, this);
        if (_state == StateCreated)
        {
            throw new InvalidOperationException($"The store for '{_directory}' is not open; call OpenAsync first.");
        }
    }

    private void ThrowIfNotWritable()
    {
        ThrowIfNotOpen();
        if (_state == StateFaulted)
        {
            throw new InvalidOperationException($"An earlier storage failure left the store for '{_directory}' in an unknown state; dispose it and open a new one.");
        }
    }
}
