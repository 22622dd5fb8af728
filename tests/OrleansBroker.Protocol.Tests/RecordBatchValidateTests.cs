using System.Buffers.Binary;
using Xunit.Abstractions;

namespace OrleansBroker.Protocol.Tests;

public sealed class RecordBatchValidateTests(ITestOutputHelper output)
{
    private const int LargeMax = 1024 * 1024;

    /// <summary>Vector a: idempotent, 3 records, headers on record 0, a tombstone; first record length byte at 61.</summary>
    private static byte[] Idempotent3() => GoldenVectors.Get("a_confluent_idempotent_3rec").BatchBytes(0);

    [Fact]
    public void Validate_EverySingleBitFlipInCrcRange_ReturnsCrcMismatch()
    {
        byte[] original = Idempotent3();
        for (int i = 21; i < original.Length; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] batch = (byte[])original.Clone();
                batch[i] ^= (byte)(1 << bit);

                Assert.Equal(BatchFormatError.CrcMismatch, RecordBatch.Validate(batch, LargeMax, out _));
            }
        }
    }

    [Fact]
    public void Validate_FlippedBitInCrcField_ReturnsCrcMismatch()
    {
        byte[] batch = Idempotent3();
        batch[18] ^= 0x10;

        Assert.Equal(BatchFormatError.CrcMismatch, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Fact]
    public void Validate_BaseOffsetAndLeaderEpochRewritten_StillNone()
    {
        byte[] batch = Idempotent3();
        RecordBatch.SetBaseOffset(batch, 123_456_789_012);
        RecordBatch.SetPartitionLeaderEpoch(batch, 7);

        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal(123_456_789_012, header.BaseOffset);
        Assert.Equal(7, header.PartitionLeaderEpoch);
        Assert.Equal(123_456_789_014, header.LastOffset);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    [InlineData(152 - 61)]
    [InlineData(152 - 60)]
    [InlineData(152)]
    public void Validate_Truncated_ReturnsInvalidLength(int bytesCut)
    {
        byte[] batch = Idempotent3()[..^bytesCut];

        Assert.Equal(BatchFormatError.InvalidLength, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    [InlineData(int.MaxValue - 140)]
    public void Validate_BatchLengthDisagreesWithBytes_ReturnsInvalidLength(int change)
    {
        byte[] batch = Idempotent3();
        int batchLength = BinaryPrimitives.ReadInt32BigEndian(batch.AsSpan(8));
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), batchLength + change);

        Assert.Equal(BatchFormatError.InvalidLength, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal(batchLength + change, header.BatchLength);
    }

    [Theory]
    [InlineData(48)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Validate_BatchLengthBelowHeader_ReturnsInvalidLength(int batchLength)
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), batchLength);

        Assert.Equal(BatchFormatError.InvalidLength, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(-1)]
    public void Validate_MagicNotTwo_ReturnsUnsupportedMagic(sbyte magic)
    {
        byte[] batch = Idempotent3();
        batch[16] = (byte)magic;

        Assert.Equal(BatchFormatError.UnsupportedMagic, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal(magic, header.Magic);
    }

    [Fact]
    public void Validate_LargerThanMax_ReturnsTooLarge()
    {
        byte[] batch = Idempotent3();

        Assert.Equal(BatchFormatError.TooLarge, RecordBatch.Validate(batch, batch.Length - 1, out _));
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, batch.Length, out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Validate_NonGzipCompression_ReturnsUnsupportedCompression(short codec)
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(21), codec);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.UnsupportedCompression, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.Equal((CompressionType)codec, header.Compression);
    }

    [Fact]
    public void Validate_RecordCountZero_ReturnsInvalidHeader()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 0);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), -1);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(-1)]
    public void Validate_LastOffsetDeltaNotCountMinusOne_ReturnsInvalidHeader(int lastOffsetDelta)
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), lastOffsetDelta);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Validate_ProducerIdWithNegativeBaseSequence_ReturnsInvalidHeader(int baseSequence)
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(53), baseSequence);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.True(header.HasProducerId);
    }

    [Fact]
    public void Validate_ProducerIdWithNegativeEpoch_ReturnsInvalidHeader()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(51), -1);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Fact]
    public void Validate_ProducerIdBelowMinusOne_ReturnsInvalidHeader()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(43), -2);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Fact]
    public void Validate_ControlBatch_ReturnsInvalidHeader()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(21), 0x20);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidHeader, RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header));
        Assert.True(header.IsControl);
    }

    [Fact]
    public void Validate_RecordCountAboveRecordsPresent_ReturnsInvalidRecords()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 4);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), 3);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidRecords, RecordBatch.Validate(batch, LargeMax, out _));
    }

    [Fact]
    public void Validate_RecordCountBelowRecordsPresent_ReturnsInvalidRecords()
    {
        byte[] batch = Idempotent3();
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), 1);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidRecords, RecordBatch.Validate(batch, LargeMax, out _));
    }

    /// <summary>Record 0's length is 59, zigzag 0x76, at byte 61.</summary>
    [Theory]
    [InlineData(0x74)] // 58: body ends one byte early
    [InlineData(0x78)] // 60: body swallows the next record's length byte
    [InlineData(0x01)] // -1
    [InlineData(0x00)] // 0
    [InlineData(0xF6)] // continuation bit: the varint runs into the attributes byte
    public void Validate_BadRecordLengthVarint_ReturnsInvalidRecords(byte lengthByte)
    {
        byte[] batch = Idempotent3();
        Assert.Equal(0x76, batch[61]);
        batch[61] = lengthByte;
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidRecords, RecordBatch.Validate(batch, LargeMax, out _));
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out _, validateRecords: false));
    }

    [Fact]
    public void Validate_LeftoverByteAfterRecords_ReturnsInvalidRecords()
    {
        byte[] batch = [.. Idempotent3(), 0];
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), batch.Length - 12);
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidRecords, RecordBatch.Validate(batch, LargeMax, out _));
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, LargeMax, out _, validateRecords: false));
    }

    [Fact]
    public void Validate_OffsetDeltasOutOfOrder_ReturnsInvalidRecords()
    {
        var builder = new RecordBatchBuilder(LargeMax);
        Assert.True(builder.TryAppend(1, "k"u8, false, "v"u8, false, null));
        Assert.True(builder.TryAppend(1, "k"u8, false, "v"u8, false, null));
        byte[] batch = builder.Seal(-1, -1, -1);
        // Each record is 9 bytes (length 8 + body). Record 1's offsetDelta (zigzag 1 = 2) follows its length,
        // attributes and timestampDelta bytes.
        int offsetDeltaAt = 61 + 9 + 3;
        Assert.Equal(2, batch[offsetDeltaAt]);
        batch[offsetDeltaAt] = 4;
        GoldenVectors.WithFixedCrc(batch);

        Assert.Equal(BatchFormatError.InvalidRecords, RecordBatch.Validate(batch, LargeMax, out _));
    }

    /// <summary>
    /// Seeded mutation loop: random byte changes, truncations, extensions and length rewrites, half of them with the CRC
    /// fixed up so the record walk is reached. Validate must never throw, and whatever it accepts must decode to exactly
    /// recordCount records.
    /// </summary>
    [Fact]
    public void Validate_RandomMutations_NeverThrowsAndAcceptedBatchesDecode()
    {
        var random = new Random(20240611);
        byte[][] seeds = GoldenVectors.All.Values
            .SelectMany(c => Enumerable.Range(0, c.Batches.Count).Select(c.BatchBytes))
            .ToArray();
        int accepted = 0;
        int reachedRecords = 0;

        for (int iteration = 0; iteration < 2000; iteration++)
        {
            byte[] batch = Mutate(random, (byte[])seeds[random.Next(seeds.Length)].Clone());
            bool fixCrc = random.Next(2) == 0 && batch.Length >= 61;
            if (fixCrc)
            {
                if (random.Next(2) == 0)
                {
                    BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), batch.Length - 12);
                }

                GoldenVectors.WithFixedCrc(batch);
            }

            BatchFormatError error = RecordBatch.Validate(batch, LargeMax, out RecordBatchHeader header);

            Assert.True(Enum.IsDefined(error), $"iteration {iteration}: undefined error {error}");
            if (error is BatchFormatError.InvalidRecords or BatchFormatError.None)
            {
                reachedRecords++;
            }

            if (error == BatchFormatError.None)
            {
                accepted++;
                Assert.Equal(header.RecordCount, RecordBatchReader.ReadRecords(batch).Count);
            }

            // The reader and the batch walker must fail only with InvalidDataException.
            try
            {
                _ = RecordBatchReader.ReadBatches(batch).Count();
                _ = RecordBatchReader.ReadRecords(batch);
            }
            catch (InvalidDataException)
            {
            }
        }

        output.WriteLine($"{reachedRecords} mutations reached the record walk, {accepted} were accepted.");

        // The loop must really exercise the record walk, not stop at the CRC.
        Assert.True(reachedRecords > 200, $"only {reachedRecords} mutations reached the record walk");
        Assert.True(accepted > 0, "no mutation kept the batch valid; the loop checks nothing on the accept path");
    }

    private static byte[] Mutate(Random random, byte[] batch)
    {
        switch (random.Next(5))
        {
            case 0:
            case 1:
                int changes = random.Next(1, 5);
                for (int i = 0; i < changes; i++)
                {
                    // Mostly the records section, where the varint walk is.
                    int at = random.Next(4) == 0 ? random.Next(batch.Length) : random.Next(61, batch.Length);
                    batch[at] = (byte)random.Next(256);
                }

                return batch;
            case 2:
                return batch[..random.Next(batch.Length)];
            case 3:
                byte[] extra = new byte[random.Next(1, 16)];
                random.NextBytes(extra);
                return [.. batch, .. extra];
            default:
                BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(random.Next(2) == 0 ? 8 : 57), random.Next(int.MinValue, int.MaxValue));
                return batch;
        }
    }
}
