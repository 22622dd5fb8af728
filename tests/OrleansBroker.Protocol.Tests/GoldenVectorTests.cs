using System.Buffers.Binary;
using System.IO.Compression;

namespace OrleansBroker.Protocol.Tests;

/// <summary>Parses and validates batches that real Kafka clients wrote (Vectors/README.md).</summary>
public sealed class GoldenVectorTests
{
    private const int LargeMax = 1024 * 1024;

    public static TheoryData<string> CaseNames => GoldenVectors.CaseNames();

    public static TheoryData<string> UncompressedCaseNames => GoldenVectors.UncompressedCaseNames();

    [Fact]
    public void Vectors_AllEightCases_Loaded()
    {
        Assert.Equal(
            ["a_confluent_idempotent_3rec", "b_confluent_plain_1rec", "c_kcat_idempotent_2rec", "d_confluent_utf8_300",
             "e_confluent_gzip_3rec", "f_confluent_idempotent_2batches", "g_kafka_python_2rec", "h_kafkajs_idempotent_2rec"],
            GoldenVectors.All.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void File_Sha256_MatchesVectorsJson(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);

        Assert.Equal(c.Sha256, GoldenVectors.Sha256Hex(c.Bytes));
        Assert.Equal(c.Bytes.Length, c.Batches.Sum(b => b.ByteLength));
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void TryRead_GoldenBatch_MatchesEveryHeaderField(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);
        for (int i = 0; i < c.Batches.Count; i++)
        {
            VectorBatch expected = c.Batches[i];

            Assert.True(RecordBatchHeader.TryRead(c.Bytes.AsSpan(expected.ByteOffset), out RecordBatchHeader header));

            // Record struct equality compares every field, including the CRC.
            Assert.Equal(expected.Header, header);
            Assert.Equal(expected.ByteLength, header.TotalSize);
            Assert.Equal(header.BaseOffset + header.RecordCount - 1, header.LastOffset);
            Assert.Equal(Crc32C.Compute(c.Bytes.AsSpan(expected.ByteOffset + 21, expected.ByteLength - 21)), header.Crc);
            Assert.False(header.IsLogAppendTime);
            Assert.False(header.IsTransactional);
            Assert.False(header.IsControl);
        }
    }

    [Theory]
    [MemberData(nameof(UncompressedCaseNames))]
    public void Validate_UncompressedGoldenBatch_ReturnsNone(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);
        for (int i = 0; i < c.Batches.Count; i++)
        {
            BatchFormatError error = RecordBatch.Validate(c.BatchBytes(i), LargeMax, out RecordBatchHeader header);

            Assert.Equal(BatchFormatError.None, error);
            Assert.Equal(c.Batches[i].Header, header);
            Assert.Equal(CompressionType.None, header.Compression);
        }
    }

    [Fact]
    public void Validate_GzipGoldenBatch_ReturnsUnsupportedCompression()
    {
        VectorCase c = GoldenVectors.Get(GoldenVectors.GzipCase);

        BatchFormatError error = RecordBatch.Validate(c.BatchBytes(0), LargeMax, out RecordBatchHeader header);

        Assert.Equal(BatchFormatError.UnsupportedCompression, error);
        Assert.Equal(CompressionType.Gzip, header.Compression);
        Assert.Equal(3, header.RecordCount);
    }

    [Theory]
    [MemberData(nameof(UncompressedCaseNames))]
    public void ReadRecords_UncompressedGoldenBatch_YieldsVectorRecords(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);
        for (int i = 0; i < c.Batches.Count; i++)
        {
            IReadOnlyList<Record> records = RecordBatchReader.ReadRecords(c.BatchBytes(i));

            AssertRecords(c.Batches[i].Records, records);
        }
    }

    [Fact]
    public void ReadRecords_GzipBatch_ThrowsInvalidData()
    {
        byte[] batch = GoldenVectors.Get(GoldenVectors.GzipCase).BatchBytes(0);

        var ex = Assert.Throws<InvalidDataException>(() => RecordBatchReader.ReadRecords(batch));
        Assert.Contains("Gzip", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The gzip case's records, once decompressed, are an ordinary records section: rebuilding the batch uncompressed
    /// (attributes 0, new batchLength, new CRC) must pass validation and decode to the vector's records.
    /// </summary>
    [Fact]
    public void ReadRecords_GzipBatchDecompressedAndRebuilt_YieldsVectorRecords()
    {
        VectorCase c = GoldenVectors.Get(GoldenVectors.GzipCase);
        byte[] compressed = c.BatchBytes(0);
        byte[] records;
        using (var input = new MemoryStream(compressed, 61, compressed.Length - 61))
        using (var gzip = new GZipStream(input, CompressionMode.Decompress))
        using (var output = new MemoryStream())
        {
            gzip.CopyTo(output);
            records = output.ToArray();
        }

        Assert.Equal(c.Batches[0].UncompressedRecordsBytes, records.Length);
        Assert.True(RecordCodec.TryCountRecords(records, 3));

        byte[] rebuilt = [.. compressed.AsSpan(0, 61), .. records];
        BinaryPrimitives.WriteInt32BigEndian(rebuilt.AsSpan(8), rebuilt.Length - 12);
        BinaryPrimitives.WriteInt16BigEndian(rebuilt.AsSpan(21), 0);
        GoldenVectors.WithFixedCrc(rebuilt);

        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(rebuilt, LargeMax, out _));
        AssertRecords(c.Batches[0].Records, RecordBatchReader.ReadRecords(rebuilt));
    }

    [Fact]
    public void ReadBatches_TwoBatchFile_YieldsBaseOffsetsZeroAndTwo()
    {
        VectorCase c = GoldenVectors.Get(GoldenVectors.TwoBatchCase);

        var batches = RecordBatchReader.ReadBatches(c.Bytes).ToList();

        Assert.Equal(2, batches.Count);
        Assert.Equal([0L, 2L], batches.Select(b => b.Header.BaseOffset));
        Assert.Equal([0, 2], batches.Select(b => b.Header.BaseSequence));
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(c.Batches[i].Header, batches[i].Header);
            Assert.Equal(c.BatchBytes(i), batches[i].Bytes.ToArray());
        }

        IReadOnlyList<Record> second = RecordBatchReader.ReadRecords(batches[1].Bytes);
        Assert.Equal(2, Assert.Single(second).Offset);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ReadBatches_GoldenFile_YieldsEveryBatchOfTheVector(string caseName)
    {
        VectorCase c = GoldenVectors.Get(caseName);

        var batches = RecordBatchReader.ReadBatches(c.Bytes).ToList();

        Assert.Equal(c.Batches.Select(b => b.Header), batches.Select(b => b.Header));
        Assert.Equal(c.Batches.Select(b => b.ByteLength), batches.Select(b => b.Bytes.Length));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(34)]
    [InlineData(60)]
    [InlineData(61)]
    [InlineData(94)]
    public void ReadBatches_TrailingPartialBatch_StopsAfterWholeOnes(int bytesOfSecondBatch)
    {
        VectorCase c = GoldenVectors.Get(GoldenVectors.TwoBatchCase);
        byte[] cut = c.Bytes.AsSpan(0, c.Batches[1].ByteOffset + bytesOfSecondBatch).ToArray();

        var batches = RecordBatchReader.ReadBatches(cut).ToList();

        Assert.Equal(0, Assert.Single(batches).Header.BaseOffset);
        Assert.Equal(c.Batches[0].ByteLength, batches[0].Bytes.Length);
    }

    [Fact]
    public void ReadBatches_Empty_YieldsNothing()
    {
        Assert.Empty(RecordBatchReader.ReadBatches(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public void ReadBatches_BatchLengthShorterThanHeader_ThrowsInvalidData()
    {
        byte[] bytes = GoldenVectors.Get(GoldenVectors.TwoBatchCase).Bytes.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(127 + 8), 48);

        using var e = RecordBatchReader.ReadBatches(bytes).GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.Throws<InvalidDataException>(() => e.MoveNext());
    }

    internal static void AssertRecords(IReadOnlyList<VectorRecord> expected, IReadOnlyList<Record> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            VectorRecord e = expected[i];
            Record a = actual[i];
            Assert.Equal(e.Offset, a.Offset);
            Assert.Equal(e.Timestamp, a.Timestamp);
            AssertBytes(e.Key, a.Key);
            AssertBytes(e.Value, a.Value);
            Assert.Equal(e.Headers.Count, a.Headers.Count);
            for (int h = 0; h < e.Headers.Count; h++)
            {
                Assert.Equal(e.Headers[h].Key, a.Headers[h].Key);
                if (e.Headers[h].Value is null)
                {
                    Assert.Null(a.Headers[h].Value);
                }
                else
                {
                    Assert.NotNull(a.Headers[h].Value);
                    Assert.Equal(e.Headers[h].Value, a.Headers[h].Value);
                }
            }
        }
    }

    private static void AssertBytes(byte[]? expected, ReadOnlyMemory<byte>? actual)
    {
        if (expected is null)
        {
            Assert.Null(actual);
        }
        else
        {
            Assert.True(actual.HasValue, "expected non-null bytes");
            Assert.Equal(expected, actual.Value.ToArray());
        }
    }
}
