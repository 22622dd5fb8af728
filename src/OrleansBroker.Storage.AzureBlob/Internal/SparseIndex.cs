using System.Buffers.Binary;
using OrleansBroker.Protocol;

namespace OrleansBroker.Storage.AzureBlob.Internal;

/// <summary>
/// Kafka's offset index kept in memory: a (base offset, byte position) entry every <c>index.interval.bytes</c> of a segment.
/// Stored for sealed segments as a block blob: <c>"OBX1"</c>, entry count (int32), entries (int64 offset, int32 position),
/// CRC-32C of everything before it (uint32); all big-endian.
/// </summary>
internal sealed class SparseIndex(int intervalBytes)
{
    private const uint Magic = 0x4F425831; // "OBX1"
    private const int EntrySize = 12;

    private readonly List<long> _offsets = [];
    private readonly List<int> _positions = [];
    private long _bytesSinceLastEntry;

    /// <summary>Entries held.</summary>
    public int Count => _offsets.Count;

    /// <summary>Notes a batch appended at <paramref name="position"/>; adds an entry when enough bytes went by since the last one.</summary>
    /// <param name="baseOffset">The batch's base offset.</param>
    /// <param name="position">The batch's byte position in the segment.</param>
    /// <param name="size">The batch's size in bytes.</param>
    public void OnBatch(long baseOffset, long position, int size)
    {
        if (_offsets.Count == 0 || _bytesSinceLastEntry >= intervalBytes)
        {
            _offsets.Add(baseOffset);
            _positions.Add(checked((int)position));
            _bytesSinceLastEntry = 0;
        }

        _bytesSinceLastEntry += size;
    }

    /// <summary>Position of the last indexed batch whose base offset is at or before <paramref name="offset"/>; 0 when none.</summary>
    /// <param name="offset">The offset looked up.</param>
    /// <returns>A byte position at which a batch starts, at or before the batch holding <paramref name="offset"/>.</returns>
    public long Floor(long offset)
    {
        int i = _offsets.BinarySearch(offset);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return i < 0 ? 0 : _positions[i];
    }

    /// <summary>Encodes the index for its blob.</summary>
    /// <returns>The bytes.</returns>
    public byte[] Serialize()
    {
        var bytes = new byte[8 + (_offsets.Count * EntrySize) + 4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), _offsets.Count);
        for (int i = 0; i < _offsets.Count; i++)
        {
            BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(8 + (i * EntrySize)), _offsets[i]);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16 + (i * EntrySize)), _positions[i]);
        }

        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(bytes.Length - 4), Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)));
        return bytes;
    }

    /// <summary>Decodes an index blob; <c>null</c> when the bytes are not a whole, intact index.</summary>
    /// <param name="bytes">The blob's bytes.</param>
    /// <param name="intervalBytes">The index interval for later entries.</param>
    /// <param name="segmentLength">Valid bytes of the segment; entries must point inside it.</param>
    /// <returns>The index, or <c>null</c>.</returns>
    public static SparseIndex? TryDeserialize(ReadOnlySpan<byte> bytes, int intervalBytes, long segmentLength)
    {
        if (bytes.Length < 12 || BinaryPrimitives.ReadUInt32BigEndian(bytes) != Magic)
        {
            return null;
        }

        int count = BinaryPrimitives.ReadInt32BigEndian(bytes[4..]);
        if (count < 0 || (long)count * EntrySize != bytes.Length - 12
            || Crc32C.Compute(bytes[..^4]) != BinaryPrimitives.ReadUInt32BigEndian(bytes[^4..]))
        {
            return null;
        }

        var index = new SparseIndex(intervalBytes);
        long lastOffset = long.MinValue;
        int lastPosition = -1;
        for (int i = 0; i < count; i++)
        {
            long offset = BinaryPrimitives.ReadInt64BigEndian(bytes[(8 + (i * EntrySize))..]);
            int position = BinaryPrimitives.ReadInt32BigEndian(bytes[(16 + (i * EntrySize))..]);
            if (offset <= lastOffset || position <= lastPosition || position >= segmentLength)
            {
                return null;
            }

            index._offsets.Add(offset);
            index._positions.Add(position);
            lastOffset = offset;
            lastPosition = position;
        }

        return index;
    }
}
