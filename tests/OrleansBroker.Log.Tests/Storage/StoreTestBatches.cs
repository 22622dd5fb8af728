using System.Text;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.Storage;

/// <summary>Batches for the store tests, encoded by the production <see cref="RecordBatchBuilder"/>.</summary>
public static class StoreTestBatches
{
    /// <summary>Producer id stamped on every test batch.</summary>
    public const long ProducerId = 4242;

    /// <summary>Builds one idempotent batch at <paramref name="baseOffset"/> whose values are <paramref name="valueBytes"/> bytes each.</summary>
    public static byte[] Create(long baseOffset, int records = 1, int valueBytes = 16, int baseSequence = 0)
    {
        var builder = new RecordBatchBuilder(int.MaxValue);
        for (int i = 0; i < records; i++)
        {
            byte[] key = Encoding.UTF8.GetBytes($"key-{baseOffset + i}");
            byte[] value = new byte[valueBytes];
            Array.Fill(value, (byte)('a' + ((baseOffset + i) % 26)));
            Assert.True(builder.TryAppend(1_700_000_000_000 + baseOffset + i, key, false, value, false, null));
        }

        byte[] batch = builder.Seal(ProducerId, 0, baseSequence);
        RecordBatch.SetBaseOffset(batch, baseOffset);
        return batch;
    }

    /// <summary>The header of <paramref name="batch"/>.</summary>
    public static RecordBatchHeader Header(byte[] batch)
    {
        Assert.True(RecordBatchHeader.TryRead(batch, out RecordBatchHeader header));
        return header;
    }

    /// <summary>The concatenation of <paramref name="batches"/>.</summary>
    public static byte[] Concat(IEnumerable<byte[]> batches) => batches.SelectMany(b => b).ToArray();
}
