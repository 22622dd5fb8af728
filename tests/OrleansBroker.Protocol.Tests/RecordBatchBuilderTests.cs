using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace OrleansBroker.Protocol.Tests;

public sealed class RecordBatchBuilderTests
{
    private const int LargeMax = 1024 * 1024;

    public static TheoryData<string, int> UncompressedBatches => GoldenVectors.UncompressedBatches();

    /// <summary>
    /// Re-encodes each golden batch's records with the builder and expects the client's bytes exactly.
    /// Every uncompressed batch in the vectors (librdkafka via Confluent.Kafka and kcat, kafka-python, kafkajs) matches
    /// byte for byte from the magic to the end: all of them write base timestamp = first record's timestamp, attributes 0,
    /// record attributes 0, and minimal zigzag varints, as the builder does. Bytes 0–15 (base offset, batch length,
    /// partition leader epoch) are compared too, except the base offset of f's second batch, which the broker rewrote to 2.
    /// </summary>
    [Theory]
    [MemberData(nameof(UncompressedBatches))]
    public void Seal_GoldenRecords_ReproducesClientBytesAndCrc(string caseName, int batchIndex)
    {
        VectorCase c = GoldenVectors.Get(caseName);
        VectorBatch vector = c.Batches[batchIndex];
        byte[] expected = c.BatchBytes(batchIndex);
        var builder = new RecordBatchBuilder(LargeMax);

        foreach (VectorRecord r in vector.Records)
        {
            Assert.True(builder.TryAppend(
                r.Timestamp,
                r.Key ?? [],
                r.Key is null,
                r.Value ?? [],
                r.Value is null,
                r.Headers.Select(h => new RecordHeader(h.Key, h.Value)).ToList()));
        }

        byte[] actual = builder.Seal(vector.Header.ProducerId, vector.Header.ProducerEpoch, vector.Header.BaseSequence);

        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.Length, builder.SizeInBytes);
        Assert.Equal(Convert.ToHexString(expected.AsSpan(16)), Convert.ToHexString(actual.AsSpan(16)));
        Assert.Equal(Convert.ToHexString(expected.AsSpan(8, 8)), Convert.ToHexString(actual.AsSpan(8, 8)));
        Assert.Equal(0L, BinaryPrimitives.ReadInt64BigEndian(actual));
        Assert.Equal(vector.Header.Crc, BinaryPrimitives.ReadUInt32BigEndian(actual.AsSpan(17)));
        Assert.Equal(vector.Header.BaseTimestamp, builder.BaseTimestamp);
        Assert.Equal(vector.Header.MaxTimestamp, builder.MaxTimestamp);
        Assert.Equal(vector.Header.RecordCount, builder.RecordCount);
    }

    [Fact]
    public void NewBuilder_Empty_HasHeaderSizeAndZeroTimestamp()
    {
        var builder = new RecordBatchBuilder(1000);

        Assert.Equal(0, builder.RecordCount);
        Assert.Equal(RecordBatchHeader.Size, builder.SizeInBytes);
        Assert.Equal(0, builder.BaseTimestamp);
        Assert.False(builder.IsSealed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Constructor_NonPositiveMax_Throws(int max)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecordBatchBuilder(max));
    }

    [Fact]
    public void Seal_Empty_ThrowsInvalidOperation()
    {
        var builder = new RecordBatchBuilder(1000);

        Assert.Throws<InvalidOperationException>(() => builder.Seal(1, 0, 0));
    }

    [Fact]
    public void TryAppend_AfterSeal_ThrowsInvalidOperation()
    {
        var builder = new RecordBatchBuilder(1000);
        Assert.True(builder.TryAppend(1, "k"u8, false, "v"u8, false, null));
        builder.Seal(1, 0, 0);

        Assert.True(builder.IsSealed);
        Assert.Throws<InvalidOperationException>(() => builder.TryAppend(2, "k"u8, false, "v"u8, false, null));
    }

    [Fact]
    public void Pooled_GrowingThenReturned_RentsEveryBufferFromThePoolAndGivesEachBackOnce()
    {
        var pool = new TrackingPool();
        var pooled = new RecordBatchBuilder(LargeMax, pool);
        var plain = new RecordBatchBuilder(LargeMax);
        byte[] value = new byte[1000];
        for (int i = 0; i < 100; i++)
        {
            Assert.True(pooled.TryAppend(i, default, true, value, false, null));
            Assert.True(plain.TryAppend(i, default, true, value, false, null));
        }

        byte[] sealedBytes = pooled.SealInPlace(7, 1, 0).ToArray();

        // 100 records of ~1 KB outgrow the 16 KiB first buffer three times (32, 64, 128 KiB): each outgrown one went back.
        Assert.Equal([16384, 32768, 65536, 131072], pool.Rented.Select(b => b.Length));
        Assert.Equal(pool.Rented.Take(3), pool.Returned);
        Assert.Equal(plain.Seal(7, 1, 0), sealedBytes);

        pooled.ReturnBuffer();
        pooled.ReturnBuffer();

        Assert.Equal(pool.Rented, pool.Returned);
        Assert.Throws<ObjectDisposedException>(() => pooled.TryAppend(1, default, true, value, false, null));
        Assert.Throws<ObjectDisposedException>(() => pooled.SealInPlace(7, 1, 0));
    }

    [Fact]
    public void Unpooled_ReturnBuffer_MakesTheBuilderUnusable()
    {
        var builder = new RecordBatchBuilder(1000);
        Assert.True(builder.TryAppend(1, "k"u8, false, "v"u8, false, null));

        builder.ReturnBuffer();

        Assert.Throws<ObjectDisposedException>(() => builder.TryAppend(2, "k"u8, false, "v"u8, false, null));
    }

    [Fact]
    public void SealInPlace_SameBytesAsSealWithoutCopy_ValidUntilReset()
    {
        var copying = new RecordBatchBuilder(1000);
        var inPlace = new RecordBatchBuilder(1000);
        foreach (RecordBatchBuilder b in new[] { copying, inPlace })
        {
            Assert.True(b.TryAppend(10, "k"u8, false, "v1"u8, false, null));
            Assert.True(b.TryAppend(11, "k"u8, false, "v2"u8, false, null));
        }

        byte[] expected = copying.Seal(7, 1, 40);
        Memory<byte> sealedBytes = inPlace.SealInPlace(7, 1, 40);

        Assert.Equal(expected, sealedBytes.ToArray());
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(sealedBytes.Span, LargeMax, out RecordBatchHeader header));
        Assert.Equal((7L, (short)1, 40, 2), (header.ProducerId, header.ProducerEpoch, header.BaseSequence, header.RecordCount));
        inPlace.Reset();
        Assert.True(inPlace.TryAppend(12, "x"u8, false, "other"u8, false, null));
        inPlace.SealInPlace(8, 0, 0);
        Assert.NotEqual(expected, sealedBytes.ToArray()); // the builder's own buffer: reused after Reset
    }

    [Fact]
    public void TryAppend_FirstRecordLargerThanMax_IsAcceptedAlone()
    {
        var builder = new RecordBatchBuilder(100);
        byte[] big = new byte[500];

        Assert.True(builder.TryAppend(1, [], true, big, false, null));
        Assert.False(builder.TryAppend(2, [], true, "x"u8, false, null));

        Assert.Equal(1, builder.RecordCount);
        byte[] batch = builder.Seal(-1, -1, -1);
        Assert.True(batch.Length > 500);
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal(1, header.RecordCount);
    }

    [Fact]
    public void TryAppend_RecordThatDoesNotFit_LeavesBuilderUnchanged()
    {
        var reference = new RecordBatchBuilder(LargeMax);
        Assert.True(reference.TryAppend(10, "a"u8, false, "1"u8, false, null));
        int oneRecordSize = reference.SizeInBytes;
        byte[] expected = reference.Seal(5, 1, 7);

        var builder = new RecordBatchBuilder(oneRecordSize + 10);
        Assert.True(builder.TryAppend(10, "a"u8, false, "1"u8, false, null));
        Assert.False(builder.TryAppend(5, "bb"u8, false, new byte[20], false, null));

        Assert.Equal(1, builder.RecordCount);
        Assert.Equal(oneRecordSize, builder.SizeInBytes);
        Assert.Equal(10, builder.MaxTimestamp);
        Assert.Equal(expected, builder.Seal(5, 1, 7));
    }

    [Fact]
    public void TryAppend_RecordThatFitsExactly_IsAccepted()
    {
        var probe = new RecordBatchBuilder(LargeMax);
        Assert.True(probe.TryAppend(1, "a"u8, false, "1"u8, false, null));
        Assert.True(probe.TryAppend(1, "b"u8, false, "2"u8, false, null));
        int twoRecordSize = probe.SizeInBytes;

        var exact = new RecordBatchBuilder(twoRecordSize);
        Assert.True(exact.TryAppend(1, "a"u8, false, "1"u8, false, null));
        Assert.True(exact.TryAppend(1, "b"u8, false, "2"u8, false, null));

        var oneShort = new RecordBatchBuilder(twoRecordSize - 1);
        Assert.True(oneShort.TryAppend(1, "a"u8, false, "1"u8, false, null));
        Assert.False(oneShort.TryAppend(1, "b"u8, false, "2"u8, false, null));

        Assert.Equal(twoRecordSize, exact.Seal(-1, -1, -1).Length);
    }

    [Fact]
    public void Reset_AfterSeal_BuildsTheSameBatchAsAFreshBuilder()
    {
        var reused = new RecordBatchBuilder(LargeMax);
        Assert.True(reused.TryAppend(100, "old"u8, false, new byte[3000], false, null));
        reused.Seal(1, 0, 0);

        reused.Reset();

        Assert.Equal(0, reused.RecordCount);
        Assert.Equal(RecordBatchHeader.Size, reused.SizeInBytes);
        Assert.Equal(0, reused.BaseTimestamp);
        Assert.False(reused.IsSealed);

        var fresh = new RecordBatchBuilder(LargeMax);
        foreach (RecordBatchBuilder b in new[] { reused, fresh })
        {
            Assert.True(b.TryAppend(2000, "k1"u8, false, "v1"u8, false, null));
            Assert.True(b.TryAppend(1990, "k2"u8, false, [], false, null));
        }

        Assert.Equal(fresh.Seal(9, 2, 40), reused.Seal(9, 2, 40));
    }

    [Fact]
    public void Seal_ManyRecordsBeyondInitialBuffer_RoundTripsThroughValidateAndReader()
    {
        var builder = new RecordBatchBuilder(LargeMax);
        for (int i = 0; i < 1000; i++)
        {
            byte[] value = Encoding.UTF8.GetBytes($"value-{i}-" + new string('x', i % 200));
            Assert.True(builder.TryAppend(1_700_000_000_000 + i, Encoding.UTF8.GetBytes($"key-{i}"), false, value, false, null));
        }

        byte[] batch = builder.Seal(42, 3, 1000);

        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal(1000, header.RecordCount);
        Assert.Equal(999, header.LastOffsetDelta);
        Assert.Equal(1999, header.LastSequence);
        Assert.Equal(1_700_000_000_999, header.MaxTimestamp);
        IReadOnlyList<Record> records = RecordBatchReader.ReadRecords(batch);
        Assert.Equal(1000, records.Count);
        for (int i = 0; i < 1000; i += 97)
        {
            Assert.Equal(i, records[i].Offset);
            Assert.Equal(1_700_000_000_000 + i, records[i].Timestamp);
            Assert.Equal($"key-{i}", Encoding.UTF8.GetString(records[i].Key!.Value.Span));
            Assert.Equal($"value-{i}-" + new string('x', i % 200), Encoding.UTF8.GetString(records[i].Value!.Value.Span));
        }
    }

    [Fact]
    public void Seal_NullAndEmptyKeysValuesAndHeaders_AreKeptDistinct()
    {
        var builder = new RecordBatchBuilder(LargeMax);
        RecordHeader[] headers = [new("null-value", null), new("empty-value", []), new("ключ", [1, 2, 3])];
        Assert.True(builder.TryAppend(1000, [], true, [], true, headers));
        Assert.True(builder.TryAppend(995, [], false, [], false, null));
        Assert.True(builder.TryAppend(1010, "k"u8, false, "v"u8, false, []));

        byte[] batch = builder.Seal(-1, -1, -1);
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        IReadOnlyList<Record> records = RecordBatchReader.ReadRecords(batch);

        Assert.Equal(1000, header.BaseTimestamp);
        Assert.Equal(1010, header.MaxTimestamp);
        Assert.Equal([1000L, 995L, 1010L], records.Select(r => r.Timestamp));
        Assert.Null(records[0].Key);
        Assert.Null(records[0].Value);
        Assert.Equal(3, records[0].Headers.Count);
        Assert.Equal("null-value", records[0].Headers[0].Key);
        Assert.Null(records[0].Headers[0].Value);
        Assert.Equal("empty-value", records[0].Headers[1].Key);
        Assert.Equal([], records[0].Headers[1].Value!);
        Assert.Equal("ключ", records[0].Headers[2].Key);
        Assert.Equal([1, 2, 3], records[0].Headers[2].Value!);
        Assert.Equal(0, records[1].Key!.Value.Length);
        Assert.Equal(0, records[1].Value!.Value.Length);
        Assert.Empty(records[1].Headers);
        Assert.Empty(records[2].Headers);
    }

    [Fact]
    public void Seal_Twice_RewritesProducerFields()
    {
        var builder = new RecordBatchBuilder(LargeMax);
        Assert.True(builder.TryAppend(1, "k"u8, false, "v"u8, false, null));

        byte[] first = builder.Seal(1, 0, 0);
        byte[] second = builder.Seal(2, 1, 5);

        Assert.True(RecordBatchHeader.TryRead(first, out RecordBatchHeader h1));
        Assert.True(RecordBatchHeader.TryRead(second, out RecordBatchHeader h2));
        Assert.Equal((1L, (short)0, 0), (h1.ProducerId, h1.ProducerEpoch, h1.BaseSequence));
        Assert.Equal((2L, (short)1, 5), (h2.ProducerId, h2.ProducerEpoch, h2.BaseSequence));
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(first, LargeMax, out _));
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(second, LargeMax, out _));
    }

    [Fact]
    public void TryAppend_NullHeader_ThrowsAndLeavesBuilderUnchanged()
    {
        var builder = new RecordBatchBuilder(LargeMax);

        Assert.Throws<ArgumentException>(() => builder.TryAppend(1, "k"u8, false, "v"u8, false, [null!]));

        Assert.Equal(0, builder.RecordCount);
        Assert.Equal(RecordBatchHeader.Size, builder.SizeInBytes);
    }

    /// <summary>Hands out exact-size arrays and records what was rented and returned, in order.</summary>
    private sealed class TrackingPool : ArrayPool<byte>
    {
        public List<byte[]> Rented { get; } = [];

        public List<byte[]> Returned { get; } = [];

        public override byte[] Rent(int minimumLength)
        {
            byte[] array = new byte[minimumLength];
            Rented.Add(array);
            return array;
        }

        public override void Return(byte[] array, bool clearArray = false) => Returned.Add(array);
    }
}
