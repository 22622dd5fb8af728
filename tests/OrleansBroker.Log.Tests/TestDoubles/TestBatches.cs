using System.Buffers.Binary;
using System.Text;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.TestDoubles;

/// <summary>Builds record batches with the production <see cref="RecordBatchBuilder"/>.</summary>
public static class TestBatches
{
    /// <summary>Default first timestamp, ms since the Unix epoch.</summary>
    public const long BaseTime = 1_700_000_000_000;

    /// <summary>Builds one batch of <paramref name="records"/> records whose values are <c>{tag}-{i}</c>.</summary>
    /// <param name="producerId">PID, or -1.</param>
    /// <param name="epoch">Producer epoch, or -1.</param>
    /// <param name="baseSequence">Base sequence, or -1.</param>
    /// <param name="records">Record count.</param>
    /// <param name="timestamp">Timestamp of the first record; record i gets <c>timestamp + i</c>.</param>
    /// <param name="tag">Value prefix.</param>
    /// <returns>The batch bytes (base offset 0).</returns>
    public static byte[] Create(long producerId, short epoch, int baseSequence, int records = 1, long timestamp = BaseTime, string? tag = null)
    {
        tag ??= $"p{producerId}-e{epoch}-s{baseSequence}";
        var builder = new RecordBatchBuilder(1 << 20);
        for (int i = 0; i < records; i++)
        {
            byte[] key = Encoding.UTF8.GetBytes($"k{i}");
            byte[] value = Encoding.UTF8.GetBytes($"{tag}-{i}");
            Assert.True(builder.TryAppend(timestamp + i, key, false, value, false, null));
        }

        return builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>A batch of one record with a null value (a tombstone).</summary>
    /// <param name="producerId">PID.</param>
    /// <param name="epoch">Epoch.</param>
    /// <param name="baseSequence">Base sequence.</param>
    /// <returns>The batch bytes.</returns>
    public static byte[] Tombstone(long producerId, short epoch, int baseSequence)
    {
        var builder = new RecordBatchBuilder(1 << 20);
        Assert.True(builder.TryAppend(BaseTime, "gone"u8, false, default, true, null));
        return builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>Sets the attributes field and recomputes the CRC, so only the attribute is wrong.</summary>
    /// <param name="batch">The batch, changed in place.</param>
    /// <param name="attributes">New attributes.</param>
    public static void SetAttributes(byte[] batch, short attributes)
    {
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(21), attributes);
        RecomputeCrc(batch);
    }

    /// <summary>Recomputes the CRC-32C over bytes [21, end).</summary>
    /// <param name="batch">The batch, changed in place.</param>
    public static void RecomputeCrc(byte[] batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(17), Crc32C.Compute(batch.AsSpan(21)));
}
