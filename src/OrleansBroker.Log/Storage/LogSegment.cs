using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Storage;

/// <summary>
/// One segment: <c>{baseOffset:D20}.log</c> with batches back to back, its in-memory <see cref="OffsetIndex"/>, and the committed size.
/// Readers use positional reads (<see cref="RandomAccess"/>) on a read-only handle and never look past <see cref="Size"/>, which
/// moves only after a batch is completely written: a reader cannot see a partially written batch.
/// </summary>
internal sealed class LogSegment : IDisposable
{
    private long _size;
    private SafeFileHandle? _readHandle;
    private bool _disposed;

    public LogSegment(long baseOffset, string logPath, string indexPath, OffsetIndex index, long size)
    {
        BaseOffset = baseOffset;
        LogPath = logPath;
        IndexPath = indexPath;
        Index = index;
        _size = size;
    }

    public long BaseOffset { get; }

    public string LogPath { get; }

    public string IndexPath { get; }

    public OffsetIndex Index { get; private set; }

    /// <summary>Bytes of whole batches in the segment; readers stop here.</summary>
    public long Size => Volatile.Read(ref _size);

    /// <summary>The write stream of the active segment, positioned at <see cref="Size"/>; <c>null</c> for sealed segments.</summary>
    public FileStream? Writer { get; private set; }

    /// <summary>Bytes appended since the last index entry (Kafka's <c>bytesSinceLastIndexEntry</c>).</summary>
    public long BytesSinceLastIndexEntry { get; set; }

    /// <summary>Set (under the store's checkpoint lock) when the log rolled past this segment: it was fsynced and its whole index written.</summary>
    public bool Rolled { get; set; }

    /// <summary>Position of the last index entry, or 0 when the index is empty.</summary>
    public long LastIndexedPosition => Index.Last?.Position ?? 0;

    /// <summary>A read-only handle, opened on first use.</summary>
    public SafeFileHandle ReadHandle
    {
        get
        {
            SafeFileHandle? handle = Volatile.Read(ref _readHandle);
            if (handle is not null)
            {
                return handle;
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
            SafeFileHandle opened = File.OpenHandle(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            handle = Interlocked.CompareExchange(ref _readHandle, opened, null);
            if (handle is not null)
            {
                opened.Dispose();
                return handle;
            }

            return opened;
        }
    }

    public static FileStream OpenWriter(string path, FileMode mode) =>
        new(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);

    public void AttachWriter(FileStream writer) => Writer = writer;

    public void CloseWriter()
    {
        Writer?.Dispose();
        Writer = null;
    }

    /// <summary>Replaces the index and size with what a recovery scan found (before the segment is shared with readers).</summary>
    public void Recovered(OffsetIndex index, long size, long bytesSinceLastIndexEntry)
    {
        Index = index;
        BytesSinceLastIndexEntry = bytesSinceLastIndexEntry;
        Commit(size);
    }

    /// <summary>Publishes a new size after a batch was written completely.</summary>
    public void Commit(long size) => Volatile.Write(ref _size, size);

    /// <summary>Reads the 61-byte header at <paramref name="position"/> of a segment whose readable size is <paramref name="size"/>.</summary>
    /// <exception cref="LogStorageException">The bytes there are not a batch lying inside the segment.</exception>
    public RecordBatchHeader ReadHeader(long position, long size, byte[] buffer)
    {
        if (position + RecordBatchHeader.Size > size)
        {
            throw Corrupt(position, "a batch header runs past the end of the segment");
        }

        ReadExactly(ReadHandle, buffer.AsSpan(0, RecordBatchHeader.Size), position);
        _ = RecordBatchHeader.TryRead(buffer, out RecordBatchHeader header);
        if (header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead || position + header.TotalSize > size)
        {
            throw Corrupt(position, string.Create(CultureInfo.InvariantCulture, $"batch length {header.BatchLength} is impossible"));
        }

        return header;
    }

    /// <summary>
    /// Finds the first batch whose last offset is at or after <paramref name="offset"/>, starting from the index entry at or before it.
    /// </summary>
    /// <returns>The batch's position and header, or <c>null</c> when no such batch is in the segment.</returns>
    public (long Position, RecordBatchHeader Header)? FindBatch(long offset, long size, byte[] headerBuffer)
    {
        long position = offset > BaseOffset ? Index.Lookup(offset - BaseOffset) : 0;
        while (position < size)
        {
            RecordBatchHeader header = ReadHeader(position, size, headerBuffer);
            if (header.LastOffset >= offset)
            {
                return (position, header);
            }

            position += header.TotalSize;
        }

        return null;
    }

    /// <summary>Checks that the batch at <paramref name="position"/> starts at <paramref name="expectedBaseOffset"/> (reads 8 bytes).</summary>
    public bool BaseOffsetAt(long position, long size, long expectedBaseOffset)
    {
        if (position + RecordBatchHeader.LogOverhead > size)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[8];
        ReadExactly(ReadHandle, bytes, position);
        return BinaryPrimitives.ReadInt64BigEndian(bytes) == expectedBaseOffset;
    }

    public void Dispose()
    {
        _disposed = true;
        CloseWriter();
        Interlocked.Exchange(ref _readHandle, null)?.Dispose();
    }

    /// <summary>Positional read of exactly <c>buffer.Length</c> bytes.</summary>
    /// <exception cref="EndOfStreamException">The file ended first.</exception>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        while (!buffer.IsEmpty)
        {
            int read = RandomAccess.Read(handle, buffer, position);
            if (read <= 0)
            {
                throw new EndOfStreamException(string.Create(CultureInfo.InvariantCulture, $"The file ended at position {position}."));
            }

            buffer = buffer[read..];
            position += read;
        }
    }

    private LogStorageException Corrupt(long position, string reason) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Segment '{LogPath}' is corrupt at position {position}: {reason}."));
}
