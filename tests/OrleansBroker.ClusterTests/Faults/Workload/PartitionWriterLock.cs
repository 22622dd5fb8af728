using System.Buffers.Binary;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Faults.Workload;

/// <summary>
/// Direct access to a partition directory of the file log store, as another writer would have it: its <c>.lock</c> (the exclusive
/// <c>flock</c> the store takes, so a partition grain cannot open the log while a test holds it) and the active segment's tail.
/// </summary>
public static class PartitionWriterLock
{
    /// <summary>The store's lock file name.</summary>
    public const string LockFileName = ".lock";

    /// <summary>Takes the partition's writer lock the way <c>FileLogStore</c> does (<see cref="FileShare.None"/>: an exclusive flock).</summary>
    /// <param name="partitionDirectory">The partition's directory.</param>
    /// <returns>The held lock (dispose to release), or null when another writer holds it.</returns>
    public static FileStream? TryAcquire(string partitionDirectory)
    {
        Directory.CreateDirectory(partitionDirectory);
        try
        {
            return new FileStream(Path.Combine(partitionDirectory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Appends the first half of a valid, never acknowledged record batch (base offset = the segment's next offset, one record with
    /// <paramref name="value"/>) to the active segment, as a write cut by a crash leaves it. Hold the writer lock while calling.
    /// </summary>
    /// <param name="partitionDirectory">The partition's directory.</param>
    /// <param name="value">The torn record's value (it must never be read back).</param>
    /// <returns>The bytes appended.</returns>
    public static int AppendTornBatch(string partitionDirectory, string value)
    {
        string active = Directory.EnumerateFiles(partitionDirectory, "*.log").Order(StringComparer.Ordinal).LastOrDefault()
            ?? throw new InvalidOperationException($"'{partitionDirectory}' has no segment.");
        long nextOffset = NextOffset(active);
        var builder = new RecordBatchBuilder(1 << 16);
        builder.TryAppend(1_700_000_000_000, default, keyIsNull: true, System.Text.Encoding.UTF8.GetBytes(value), valueIsNull: false, headers: null);
        byte[] batch = builder.Seal(-1, -1, -1);
        RecordBatch.SetBaseOffset(batch, nextOffset);
        int torn = batch.Length / 2;
        using var segment = new FileStream(active, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        segment.Write(batch, 0, torn);
        segment.Flush(flushToDisk: true);
        return torn;
    }

    /// <summary>The offset after the last whole batch of a segment (its base offset from the file name when empty).</summary>
    private static long NextOffset(string segmentPath)
    {
        long next = long.Parse(Path.GetFileNameWithoutExtension(segmentPath), System.Globalization.CultureInfo.InvariantCulture);
        byte[] bytes = File.ReadAllBytes(segmentPath);
        int position = 0;
        while (bytes.Length - position >= RecordBatchHeader.Size)
        {
            long baseOffset = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(position));
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(position + 8));
            int lastDelta = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(position + 23));
            if (length < RecordBatchHeader.Size - 12 || position + 12L + length > bytes.Length)
            {
                break;
            }

            next = baseOffset + lastDelta + 1;
            position += 12 + length;
        }

        return next;
    }
}
