using System.Buffers.Binary;

namespace OrleansBroker.Protocol.Tests;

/// <summary><see cref="RecordBatchReader.EnumerateRecords"/>: the same records as <see cref="RecordBatchReader.ReadRecords"/>, without copies.</summary>
public sealed class RecordEnumeratorTests
{
    [Theory]
    [MemberData(nameof(GoldenVectors.UncompressedCaseNames), MemberType = typeof(GoldenVectors))]
    public void EnumerateRecords_UncompressedGoldenBatch_MatchesReadRecords(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);
        for (int i = 0; i < c.Batches.Count; i++)
        {
            byte[] batch = c.BatchBytes(i);
            IReadOnlyList<Record> expected = RecordBatchReader.ReadRecords(batch);
            var actual = new List<RecordView>();
            foreach (RecordView r in RecordBatchReader.EnumerateRecords(batch))
            {
                actual.Add(r);
            }

            Assert.Equal(expected.Count, actual.Count);
            for (int j = 0; j < expected.Count; j++)
            {
                Assert.Equal(expected[j].Offset, actual[j].Offset);
                Assert.Equal(expected[j].Timestamp, actual[j].Timestamp);
                Assert.Equal(expected[j].Key?.ToArray(), actual[j].Key?.ToArray());
                Assert.Equal(expected[j].Value?.ToArray(), actual[j].Value?.ToArray());
                Assert.Equal(expected[j].Headers, actual[j].ReadHeaders(), HeaderComparer.Instance);
                Assert.Equal(expected[j].Headers.Count, actual[j].HeaderCount);
            }
        }
    }

    [Fact]
    public void EnumerateRecords_NullKeyAndValueAndHeaders_SlicesTheBatch()
    {
        var builder = new RecordBatchBuilder(1 << 20);
        Assert.True(builder.TryAppend(1000, default, keyIsNull: true, "v1"u8, valueIsNull: false, null));
        Assert.True(builder.TryAppend(1005, "k2"u8, keyIsNull: false, default, valueIsNull: true, [new RecordHeader("h", [1, 2]), new RecordHeader("n", null)]));
        byte[] batch = builder.Seal(7, 0, 0);
        RecordBatch.SetBaseOffset(batch, 40);

        RecordEnumerator records = RecordBatchReader.EnumerateRecords(batch);
        Assert.True(records.MoveNext());
        RecordView first = records.Current;
        Assert.True(records.MoveNext());
        RecordView second = records.Current;
        Assert.False(records.MoveNext());

        Assert.Equal((40L, 1000L), (first.Offset, first.Timestamp));
        Assert.Null(first.Key);
        Assert.Equal("v1"u8.ToArray(), first.Value!.Value.ToArray());
        Assert.Empty(first.ReadHeaders());
        Assert.Equal((41L, 1005L), (second.Offset, second.Timestamp));
        Assert.Equal("k2"u8.ToArray(), second.Key!.Value.ToArray());
        Assert.Null(second.Value);
        Assert.Equal([new RecordHeader("h", [1, 2]), new RecordHeader("n", null)], second.ReadHeaders(), HeaderComparer.Instance);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(first.Value.Value, out ArraySegment<byte> segment));
        Assert.Same(batch, segment.Array);
    }

    [Fact]
    public void MoveNext_RecordCountLargerThanTheRecords_ThrowsInvalidData()
    {
        var builder = new RecordBatchBuilder(1 << 20);
        Assert.True(builder.TryAppend(1, default, true, "a"u8, false, null));
        byte[] batch = builder.Seal(-1, -1, -1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 2);

        RecordEnumerator records = RecordBatchReader.EnumerateRecords(batch);
        Assert.True(records.MoveNext());
        try
        {
            records.MoveNext();
            Assert.Fail("A missing record was not noticed.");
        }
        catch (InvalidDataException ex)
        {
            Assert.Contains("Record 1 of 2", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EnumerateRecords_CompressedBatch_ThrowsInvalidData()
    {
        byte[] batch = GoldenVectors.Get(GoldenVectors.GzipCase).BatchBytes(0);

        var ex = Assert.Throws<InvalidDataException>(() => RecordBatchReader.EnumerateRecords(batch));
        Assert.Contains("Gzip", ex.Message, StringComparison.Ordinal);
    }

    private sealed class HeaderComparer : IEqualityComparer<RecordHeader>
    {
        public static readonly HeaderComparer Instance = new();

        public bool Equals(RecordHeader? x, RecordHeader? y) =>
            x is not null && y is not null && x.Key == y.Key && (x.Value ?? []).SequenceEqual(y.Value ?? []) && (x.Value is null) == (y.Value is null);

        public int GetHashCode(RecordHeader obj) => obj.Key.GetHashCode(StringComparison.Ordinal);
    }
}
