using System.Runtime.CompilerServices;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.TestDoubles;

/// <summary>What the next append on a <see cref="MemoryDisk"/> does wrong.</summary>
public enum AppendFault
{
    /// <summary>Nothing: the append works.</summary>
    None,

    /// <summary>Throws <see cref="LogStorageException"/> before any byte is stored.</summary>
    FailBeforeWrite,

    /// <summary>Stores the bytes, then throws <see cref="LogStorageException"/> instead of returning (a lost acknowledgement).</summary>
    FailAfterWrite,
}

/// <summary>
/// The "disk" of one partition: the log bytes, segment boundaries, producer snapshots and the writer lock. It outlives the
/// <see cref="MemoryLogStore"/> instances opened on it, as a directory outlives processes, so a test can crash one and reopen.
/// </summary>
public sealed class MemoryDisk
{
    internal readonly object Gate = new();
    internal readonly MemoryStream Log = new();
    internal readonly List<(long BaseOffset, long Position)> Segments = [(0, 0)];
    internal readonly List<(long Offset, byte[] Bytes)> Snapshots = [];
    internal MemoryLogStore? Writer;

    /// <summary>Fault applied to the next append (then reset to <see cref="AppendFault.None"/>).</summary>
    public AppendFault NextAppendFault { get; set; }

    /// <summary>When true, the next snapshot write throws <see cref="LogStorageException"/> (then resets).</summary>
    public bool FailNextSnapshotWrite { get; set; }

    /// <summary>Batch headers handed out by <see cref="MemoryLogStore.ReadHeadersAsync"/> over the disk's life.</summary>
    public long HeadersRead { get; internal set; }

    /// <summary>Successful snapshot writes over the disk's life.</summary>
    public int SnapshotWrites { get; internal set; }

    /// <summary>Flushes over the disk's life.</summary>
    public int Flushes { get; internal set; }

    /// <summary>Bytes in the log.</summary>
    public long LogLength
    {
        get
        {
            lock (Gate)
            {
                return Log.Length;
            }
        }
    }

    /// <summary>A copy of the raw log bytes.</summary>
    /// <returns>Every stored byte, torn tail included.</returns>
    public byte[] LogBytes()
    {
        lock (Gate)
        {
            return Log.ToArray();
        }
    }

    /// <summary>The stored snapshots, oldest first (copies).</summary>
    /// <returns>Offsets and bytes.</returns>
    public IReadOnlyList<(long Offset, byte[] Bytes)> StoredSnapshots()
    {
        lock (Gate)
        {
            return Snapshots.Select(s => (s.Offset, s.Bytes.ToArray())).ToList();
        }
    }

    /// <summary>Replaces the bytes of the stored snapshot at <paramref name="offset"/> (to corrupt or truncate it).</summary>
    /// <param name="offset">The snapshot's offset.</param>
    /// <param name="change">Gets the current bytes, returns the new ones.</param>
    public void RewriteSnapshot(long offset, Func<byte[], byte[]> change)
    {
        lock (Gate)
        {
            int index = Snapshots.FindIndex(s => s.Offset == offset);
            if (index < 0)
            {
                throw new InvalidOperationException($"No snapshot at offset {offset}.");
            }

            Snapshots[index] = (offset, change(Snapshots[index].Bytes.ToArray()));
        }
    }

    /// <summary>Cuts <paramref name="bytes"/> bytes from the end of the log: a write torn by a crash.</summary>
    /// <param name="bytes">How many bytes to remove.</param>
    public void TearTail(int bytes)
    {
        lock (Gate)
        {
            Log.SetLength(Log.Length - bytes);
        }
    }

    /// <summary>The process died: the writer lock is gone (the OS releases it), the bytes handed to the OS stay.</summary>
    public void Crash()
    {
        lock (Gate)
        {
            Writer = null;
        }
    }
}

/// <summary>
/// An in-memory <see cref="ILogStore"/> that keeps its contract faithfully: contiguous offsets checked on append, whole-batch
/// reads, recovery that truncates a torn or CRC-failing tail, two newest snapshots, and a single-writer lock shared through a
/// <see cref="MemoryDisk"/> so two stores on one disk fence each other. Faults come from <see cref="MemoryDisk"/>'s hooks.
/// </summary>
public sealed class MemoryLogStore : ILogStore
{
    private readonly MemoryDisk _disk;
    private readonly int _segmentBytes;
    private readonly List<(long BaseOffset, long LastOffset, int Position, int Length)> _index = [];
    private bool _opened;
    private bool _disposed;

    /// <summary>Creates a store on <paramref name="disk"/>.</summary>
    /// <param name="disk">The partition's disk.</param>
    /// <param name="segmentBytes">Segment size at which appends roll.</param>
    public MemoryLogStore(MemoryDisk disk, int segmentBytes = int.MaxValue)
    {
        _disk = disk;
        _segmentBytes = segmentBytes;
    }

    /// <summary>Headers this store handed out through <see cref="ReadHeadersAsync"/>.</summary>
    public long HeadersRead { get; private set; }

    /// <inheritdoc />
    public long LogStartOffset { get; private set; }

    /// <inheritdoc />
    public long LogEndOffset { get; private set; }

    /// <inheritdoc />
    public ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default)
    {
        lock (_disk.Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_disk.Writer is not null && _disk.Writer != this)
            {
                throw new LogFencedException("Another store holds the memory disk.");
            }

            _disk.Writer = this;
            _index.Clear();
            byte[] log = _disk.Log.GetBuffer();
            int length = (int)_disk.Log.Length;
            int position = 0;
            long expected = _disk.Segments[0].BaseOffset;
            while (position < length)
            {
                ReadOnlySpan<byte> rest = log.AsSpan(position, length - position);
                if (!RecordBatchHeader.TryRead(rest, out RecordBatchHeader header)
                    || header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead
                    || header.TotalSize > rest.Length
                    || Crc32C.Compute(rest[21..header.TotalSize]) != header.Crc
                    || header.BaseOffset != expected)
                {
                    break;
                }

                _index.Add((header.BaseOffset, header.LastOffset, position, header.TotalSize));
                position += header.TotalSize;
                expected = header.LastOffset + 1;
            }

            long truncated = length - position;
            _disk.Log.SetLength(position);
            _disk.Segments.RemoveAll(s => s.Position > position || (s.Position == position && s.Position > 0));
            LogStartOffset = _disk.Segments[0].BaseOffset;
            LogEndOffset = expected;

            // As Kafka after a truncation: a snapshot past the log end describes batches that are gone, and would look valid again
            // once the log grows past its offset.
            _disk.Snapshots.RemoveAll(s => s.Offset > expected);
            _opened = true;
            return ValueTask.FromResult(new LogRecoveryInfo(LogStartOffset, LogEndOffset, _disk.Segments.Count, truncated));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default)
    {
        lock (_disk.Gate)
        {
            EnsureWriter();
            if (!RecordBatchHeader.TryRead(batch.Span, out RecordBatchHeader stored)
                || stored.BaseOffset != LogEndOffset || header.BaseOffset != LogEndOffset || header.TotalSize != batch.Length)
            {
                throw new ArgumentException($"The batch must be exactly one batch at base offset {LogEndOffset}.", nameof(batch));
            }

            AppendFault fault = _disk.NextAppendFault;
            _disk.NextAppendFault = AppendFault.None;
            if (fault == AppendFault.FailBeforeWrite)
            {
                throw new LogStorageException("Injected: the disk failed before writing.");
            }

            (long _, long segmentStart) = _disk.Segments[^1];
            long segmentLength = _disk.Log.Length - segmentStart;
            bool rolled = false;
            if (segmentLength > 0 && segmentLength + batch.Length > _segmentBytes)
            {
                _disk.Segments.Add((LogEndOffset, _disk.Log.Length));
                rolled = true;
            }

            int position = (int)_disk.Log.Length;
            _disk.Log.Position = position;
            _disk.Log.Write(batch.Span);
            _index.Add((header.BaseOffset, header.LastOffset, position, batch.Length));
            LogEndOffset = header.LastOffset + 1;
            if (fault == AppendFault.FailAfterWrite)
            {
                throw new LogStorageException("Injected: the bytes were stored but the acknowledgement was lost.");
            }

            return ValueTask.FromResult(rolled);
        }
    }

    /// <inheritdoc />
    public ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default)
    {
        lock (_disk.Gate)
        {
            EnsureWriter();
            ArgumentOutOfRangeException.ThrowIfLessThan(offset, LogStartOffset);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, LogEndOffset);
            if (offset == LogEndOffset)
            {
                return ValueTask.FromResult(ReadOnlyMemory<byte>.Empty);
            }

            int first = FindBatch(offset);
            int start = _index[first].Position;
            int end = start + _index[first].Length;
            for (int i = first + 1; i < _index.Count && _index[i].Position + _index[i].Length - start <= maxBytes; i++)
            {
                end = _index[i].Position + _index[i].Length;
            }

            return ValueTask.FromResult<ReadOnlyMemory<byte>>(_disk.Log.GetBuffer().AsSpan(start, end - start).ToArray());
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        int i;
        lock (_disk.Gate)
        {
            EnsureWriter();
            i = _index.FindIndex(e => e.LastOffset >= fromOffset);
        }

        if (i < 0)
        {
            yield break;
        }

        for (; ; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RecordBatchHeader header;
            lock (_disk.Gate)
            {
                if (i >= _index.Count)
                {
                    yield break;
                }

                RecordBatchHeader.TryRead(_disk.Log.GetBuffer().AsSpan(_index[i].Position, _index[i].Length), out header);
                HeadersRead++;
                _disk.HeadersRead++;
            }

            yield return header;
        }
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        lock (_disk.Gate)
        {
            EnsureWriter();
            _disk.Flushes++;
            return ValueTask.CompletedTask;
        }
    }

    /// <inheritdoc />
    public ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default)
    {
        lock (_disk.Gate)
        {
            EnsureWriter();
            ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, LogEndOffset);
            if (_disk.FailNextSnapshotWrite)
            {
                _disk.FailNextSnapshotWrite = false;
                throw new LogStorageException("Injected: the snapshot write failed.");
            }

            _disk.Snapshots.RemoveAll(s => s.Offset == offset);
            _disk.Snapshots.Add((offset, snapshot.ToArray()));
            _disk.Snapshots.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            while (_disk.Snapshots.Count > 2)
            {
                _disk.Snapshots.RemoveAt(0);
            }

            _disk.SnapshotWrites++;
            return ValueTask.CompletedTask;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        List<(long Offset, byte[] Bytes)> snapshots;
        lock (_disk.Gate)
        {
            EnsureWriter();
            snapshots = _disk.Snapshots.Where(s => s.Offset <= LogEndOffset).OrderByDescending(s => s.Offset).Select(s => (s.Offset, s.Bytes.ToArray())).ToList();
        }

        foreach ((long offset, byte[] bytes) in snapshots)
        {
            yield return (offset, bytes);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        lock (_disk.Gate)
        {
            _disposed = true;
            if (_disk.Writer == this)
            {
                _disk.Writer = null;
            }

            return ValueTask.CompletedTask;
        }
    }

    private int FindBatch(long offset)
    {
        int lo = 0;
        int hi = _index.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (_index[mid].LastOffset < offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private void EnsureWriter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_opened)
        {
            throw new InvalidOperationException("The store is not open.");
        }

        if (_disk.Writer != this)
        {
            throw new LogFencedException("This store lost the memory disk's writer lock.");
        }
    }
}
