using Microsoft.Win32.SafeHandles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Storage;

/// <summary>What <see cref="SegmentScanner.Scan"/> found in a segment file.</summary>
/// <param name="ValidBytes">Bytes of valid batches from the start; the rest is torn or corrupt.</param>
/// <param name="NextOffset">Offset after the last valid batch (the segment's base offset when none).</param>
/// <param name="Index">The index rebuilt over the valid batches.</param>
/// <param name="BytesSinceLastIndexEntry">Index bookkeeping to continue appending.</param>
/// <param name="StopReason">Why the scan stopped before the end of the file, or <c>null</c>.</param>
/// <param name="LastBatchPosition">Position of the last valid batch, or -1 when there is none.</param>
internal readonly record struct SegmentScanResult(long ValidBytes, long NextOffset, OffsetIndex Index, long BytesSinceLastIndexEntry, string? StopReason, long LastBatchPosition = -1);

/// <summary>Where a scan starts: a known-good prefix of the segment (see <see cref="RecoveryPoint"/>) and the index state at its end.</summary>
/// <param name="Position">Bytes already known to be valid.</param>
/// <param name="NextOffset">Offset of the first batch at <see cref="Position"/>.</param>
/// <param name="LastBatchPosition">Position of the last batch before <see cref="Position"/>, or -1.</param>
/// <param name="Index">Index entries covering the prefix; the scan appends to it.</param>
/// <param name="BytesSinceLastIndexEntry">Index bookkeeping at <see cref="Position"/>.</param>
internal readonly record struct ScanStart(long Position, long NextOffset, long LastBatchPosition, OffsetIndex Index, long BytesSinceLastIndexEntry);

/// <summary>
/// Walks a segment file batch by batch, reading it sequentially in large chunks: checks each batch's header (magic, length inside
/// the file, base offset contiguous with the previous batch) and optionally its CRC-32C, and rebuilds the offset index on the way.
/// </summary>
internal static class SegmentScanner
{
    private const int ChunkBytes = 1 << 20;

    public static SegmentScanResult Scan(SafeFileHandle handle, long fileLength, long baseOffset, int indexIntervalBytes, bool verifyCrc, CancellationToken cancellationToken, ScanStart? start = null)
    {
        OffsetIndex index = start?.Index ?? new OffsetIndex();
        var window = new Window(handle, fileLength);
        long position = start?.Position ?? 0;
        long expectedOffset = start?.NextOffset ?? baseOffset;
        long bytesSinceLastIndexEntry = start?.BytesSinceLastIndexEntry ?? 0;
        long lastBatchPosition = start?.LastBatchPosition ?? -1;
        string? stopReason = null;
        while (position < fileLength)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stopReason = Check(window, position, fileLength, baseOffset, expectedOffset, verifyCrc, out RecordBatchHeader header);
            if (stopReason is not null)
            {
                break;
            }

            if (bytesSinceLastIndexEntry > indexIntervalBytes)
            {
                index.Append((int)(header.BaseOffset - baseOffset), (int)position);
                bytesSinceLastIndexEntry = 0;
            }

            bytesSinceLastIndexEntry += header.TotalSize;
            lastBatchPosition = position;
            position += header.TotalSize;
            expectedOffset = header.LastOffset + 1;
        }

        return new SegmentScanResult(position, expectedOffset, index, bytesSinceLastIndexEntry, stopReason, lastBatchPosition);
    }

    private static string? Check(Window window, long position, long fileLength, long baseOffset, long expectedOffset, bool verifyCrc, out RecordBatchHeader header)
    {
        header = default;
        if (fileLength - position < RecordBatchHeader.Size)
        {
            return "incomplete batch header";
        }

        _ = RecordBatchHeader.TryRead(window.Get(position, RecordBatchHeader.Size), out header);
        if (header.Magic != RecordBatchHeader.CurrentMagic)
        {
            return "bad magic byte";
        }

        if (header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead)
        {
            return "impossible batch length";
        }

        if (header.TotalSize > fileLength - position)
        {
            return "incomplete batch";
        }

        if (header.BaseOffset != expectedOffset)
        {
            return "offset discontinuity";
        }

        if (header.LastOffsetDelta < 0 || header.LastOffset - baseOffset > int.MaxValue)
        {
            return "invalid last offset delta";
        }

        if (verifyCrc)
        {
            uint crc = 0;
            long from = position + BatchLayout.CrcRangeStart;
            long end = position + header.TotalSize;
            while (from < end)
            {
                int count = (int)Math.Min(ChunkBytes, end - from);
                crc = Crc32C.Append(crc, window.Get(from, count));
                from += count;
            }

            if (crc != header.Crc)
            {
                return "CRC-32C mismatch";
            }
        }

        return null;
    }

    /// <summary>A sliding read buffer over the file: at most <see cref="ChunkBytes"/> per read, refilled when a request leaves it.</summary>
    private sealed class Window(SafeFileHandle handle, long fileLength)
    {
        private readonly byte[] _buffer = new byte[(int)Math.Clamp(fileLength, RecordBatchHeader.Size, ChunkBytes)];
        private long _start;
        private int _length;

        /// <summary>The bytes [position, position + count) of the file; count is at most the chunk size and inside the file.</summary>
        public ReadOnlySpan<byte> Get(long position, int count)
        {
            if (position < _start || position + count > _start + _length)
            {
                int toRead = (int)Math.Min(_buffer.Length, fileLength - position);
                LogSegment.ReadExactly(handle, _buffer.AsSpan(0, toRead), position);
                _start = position;
                _length = toRead;
            }

            return _buffer.AsSpan((int)(position - _start), count);
        }
    }
}
