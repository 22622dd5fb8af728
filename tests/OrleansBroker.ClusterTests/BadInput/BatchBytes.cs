using System.Buffers.Binary;
using System.Text;
using OrleansBroker.Protocol;
using Record = OrleansBroker.Protocol.Record;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>Handcrafted record batches (Kafka v2 bytes) and the byte edits the bad-input matrix makes to them.</summary>
internal static class BatchBytes
{
    /// <summary>The CreateTime of every handcrafted record, ms since the Unix epoch.</summary>
    public const long Timestamp = 1_700_000_000_000;

    // Header field offsets (Kafka's protocol guide, "Record Batch").
    public const int BatchLengthOffset = 8;
    public const int MagicOffset = 16;
    public const int CrcOffset = 17;
    public const int AttributesOffset = 21;
    public const int LastOffsetDeltaOffset = 23;
    public const int ProducerIdOffset = 43;
    public const int ProducerEpochOffset = 51;
    public const int BaseSequenceOffset = 53;
    public const int RecordCountOffset = 57;

    /// <summary>A valid batch of string values (null key, no headers).</summary>
    public static byte[] Build(long producerId, short epoch, int baseSequence, params string[] values)
    {
        var builder = new RecordBatchBuilder(1 << 20);
        foreach (string value in values)
        {
            if (!builder.TryAppend(Timestamp, default, keyIsNull: true, Encoding.UTF8.GetBytes(value), valueIsNull: false, headers: null))
            {
                throw new InvalidOperationException("The record does not fit.");
            }
        }

        return builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>A valid batch of one record with the given value (null for a tombstone) and headers.</summary>
    public static byte[] BuildOne(long producerId, short epoch, int baseSequence, byte[]? key, byte[]? value, IReadOnlyList<RecordHeader>? headers)
    {
        var builder = new RecordBatchBuilder(64 << 20);
        if (!builder.TryAppend(Timestamp, key, key is null, value, value is null, headers))
        {
            throw new InvalidOperationException("The record does not fit.");
        }

        return builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>Recomputes the CRC-32C over bytes [21, end) after a header edit, so only the edited field is wrong.</summary>
    public static byte[] Recrc(byte[] batch)
    {
        BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(CrcOffset), Crc32C.Compute(batch.AsSpan(AttributesOffset)));
        return batch;
    }

    public static byte[] WithInt32(byte[] batch, int offset, int value, bool recrc = true)
    {
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(offset), value);
        return recrc ? Recrc(batch) : batch;
    }

    public static byte[] WithInt16(byte[] batch, int offset, short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(offset), value);
        return Recrc(batch);
    }

    public static byte[] WithInt64(byte[] batch, int offset, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(offset), value);
        return Recrc(batch);
    }

    /// <summary>Decodes every record of a fetch's bytes (whole batches back to back).</summary>
    public static List<Record> ReadAll(byte[] fetched)
    {
        var records = new List<Record>();
        foreach ((RecordBatchHeader _, ReadOnlyMemory<byte> bytes) in RecordBatchReader.ReadBatches(fetched))
        {
            records.AddRange(RecordBatchReader.ReadRecords(bytes));
        }

        return records;
    }
}

/// <summary>Recursive listings of a directory, to prove a call created nothing.</summary>
internal static class DiskListing
{
    /// <summary>Every file and directory under <paramref name="root"/>, as paths relative to it with '/' separators, sorted.</summary>
    public static SortedSet<string> Snapshot(string root)
    {
        var entries = new SortedSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(root))
        {
            return entries;
        }

        foreach (string path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            entries.Add(Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'));
        }

        return entries;
    }

    /// <summary>The entries of <paramref name="after"/> that are not in <paramref name="before"/>.</summary>
    public static List<string> Added(SortedSet<string> before, SortedSet<string> after) => [.. after.Where(e => !before.Contains(e))];
}
