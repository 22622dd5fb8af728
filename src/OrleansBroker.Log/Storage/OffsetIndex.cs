using System.Buffers.Binary;

namespace OrleansBroker.Log.Storage;

/// <summary>
/// A segment's sparse offset index, as Kafka's <c>OffsetIndex</c>: entries of (offset relative to the segment's base offset, int32;
/// byte position of the batch that starts there, int32), both big-endian on disk, one every <c>index.interval.bytes</c>.
/// An entry names a batch's base offset, so a lookup lands on a batch start at or before the wanted offset.
/// </summary>
/// <remarks>
/// One writer appends while readers look up: an entry is stored before the count that makes it visible is published,
/// and a grown array is published before the count, so a reader never sees an unwritten entry.
/// The file is derived data: it is written whole at roll and close, and rebuilt by scanning when missing or not trusted.
/// </remarks>
internal sealed class OffsetIndex
{
    public const int EntrySize = 8;

    private Entry[] _entries;
    private int _count;

    public OffsetIndex()
        : this(new Entry[16], 0)
    {
    }

    private OffsetIndex(Entry[] entries, int count)
    {
        _entries = entries;
        _count = count;
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>The last entry, or <c>null</c> when empty.</summary>
    public (int RelativeOffset, int Position)? Last
    {
        get
        {
            int count = Volatile.Read(ref _count);
            if (count == 0)
            {
                return null;
            }

            Entry entry = Volatile.Read(ref _entries)[count - 1];
            return (entry.RelativeOffset, entry.Position);
        }
    }

    /// <summary>Adds an entry; offsets and positions must grow.</summary>
    public void Append(int relativeOffset, int position)
    {
        int count = _count;
        Entry[] entries = _entries;
        if (count == entries.Length)
        {
            var grown = new Entry[entries.Length * 2];
            Array.Copy(entries, grown, count);
            entries = grown;
        }

        entries[count] = new Entry(relativeOffset, position);
        Volatile.Write(ref _entries, entries);
        Volatile.Write(ref _count, count + 1);
    }

    /// <summary>Position of the last entry whose relative offset is at most <paramref name="relativeOffset"/>; 0 when there is none.</summary>
    public int Lookup(long relativeOffset)
    {
        int count = Volatile.Read(ref _count);
        Entry[] entries = Volatile.Read(ref _entries);
        int lo = 0;
        int hi = count - 1;
        int found = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (entries[mid].RelativeOffset <= relativeOffset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found < 0 ? 0 : entries[found].Position;
    }

    /// <summary>A copy holding only the first <paramref name="count"/> entries (the part a <see cref="RecoveryPoint"/> vouches for).</summary>
    public OffsetIndex Prefix(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        var entries = new Entry[Math.Max(16, count)];
        Array.Copy(Volatile.Read(ref _entries), entries, count);
        return new OffsetIndex(entries, count);
    }

    /// <summary>Writes the whole index to <paramref name="path"/> (replacing it) and fsyncs it.</summary>
    public void WriteTo(string path) => WriteTo(path, Count, flushToDisk: true);

    /// <summary>
    /// Writes the first <paramref name="count"/> entries to <paramref name="path"/> (replacing it), and fsyncs it when asked. Safe while the
    /// single writer appends: entries below <see cref="Count"/> never change, and a grown array keeps them.
    /// </summary>
    public void WriteTo(string path, int count, bool flushToDisk)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Entry[] entries = Volatile.Read(ref _entries);
        byte[] bytes = new byte[count * EntrySize];
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(i * EntrySize), entries[i].RelativeOffset);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan((i * EntrySize) + 4), entries[i].Position);
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
        stream.Write(bytes);
        if (flushToDisk)
        {
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// Loads an index file if it can be trusted for a segment of <paramref name="segmentSize"/> bytes: a whole number of entries,
    /// offsets and positions strictly growing, positions inside the segment. Returns <c>null</c> when the file is missing or fails.
    /// The caller still checks the last entry against the segment and that the index is not short.
    /// </summary>
    public static OffsetIndex? TryLoad(string path, long segmentSize)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        if (bytes.Length % EntrySize != 0)
        {
            return null;
        }

        int count = bytes.Length / EntrySize;
        var entries = new Entry[Math.Max(16, count)];
        int previousOffset = -1;
        int previousPosition = -1;
        for (int i = 0; i < count; i++)
        {
            int relativeOffset = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(i * EntrySize));
            int position = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan((i * EntrySize) + 4));
            if (relativeOffset <= previousOffset || position <= previousPosition || position >= segmentSize)
            {
                return null;
            }

            entries[i] = new Entry(relativeOffset, position);
            previousOffset = relativeOffset;
            previousPosition = position;
        }

        return new OffsetIndex(entries, count);
    }

    private readonly record struct Entry(int RelativeOffset, int Position);
}
