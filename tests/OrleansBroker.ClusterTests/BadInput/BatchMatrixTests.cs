using OrleansBroker.Protocol;
using B = OrleansBroker.ClusterTests.BadInput.BatchBytes;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>
/// Handcrafted batches sent straight to <see cref="IPartitionGrain.ProduceAsync"/>: every malformed one gets its exact error code and a
/// reason, nothing is written (offsets and bytes unchanged), and the partition keeps serving another producer and the same one.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class BatchMatrixTests(BadInputFixture fixture)
{
    /// <summary>The topic's max.message.bytes in this matrix.</summary>
    private const int MaxMessageBytes = 4096;

    private static readonly Dictionary<string, BadBatch> Cases = new()
    {
        ["null"] = new(_ => null, ErrorCode.CorruptMessage, "carried no record batch"),
        ["empty"] = new(_ => [], ErrorCode.CorruptMessage, "carried no record batch"),
        ["ten-bytes"] = new(p => Valid(p)[..10], ErrorCode.CorruptMessage, "10 bytes received are not exactly one record batch"),
        ["sixty-one-zero-bytes"] = new(_ => new byte[61], ErrorCode.UnsupportedForMessageFormat, "magic 0 is not supported"),
        ["truncated-tail"] = new(p => Valid(p)[..^5], ErrorCode.CorruptMessage, "are not exactly one record batch"),
        ["trailing-garbage"] = new(p => [.. Valid(p), 1, 2, 3], ErrorCode.CorruptMessage, "are not exactly one record batch"),
        ["two-batches-in-one-request"] = new(p => [.. Valid(p), .. Valid(p)], ErrorCode.CorruptMessage, "are not exactly one record batch"),
        ["batch-length-negative"] = new(p => B.WithInt32(Valid(p), B.BatchLengthOffset, -1, recrc: false), ErrorCode.CorruptMessage, "batchLength -1"),
        ["batch-length-huge"] = new(p => B.WithInt32(Valid(p), B.BatchLengthOffset, int.MaxValue, recrc: false), ErrorCode.CorruptMessage, "are not exactly one record batch"),
        ["value-byte-flipped"] = new(p => Flip(Valid(p), ^1), ErrorCode.CorruptMessage, "failed its CRC-32C check"),
        ["crc-field-flipped"] = new(p => Flip(Valid(p), B.CrcOffset), ErrorCode.CorruptMessage, "failed its CRC-32C check"),
        ["producer-id-edited-without-crc"] = new(p => Flip(Valid(p), B.ProducerIdOffset + 7), ErrorCode.CorruptMessage, "failed its CRC-32C check"),
        ["record-count-plus-one-crc-recomputed"] = new(p => B.WithInt32(Valid(p), B.RecordCountOffset, 3), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["record-count-and-delta-plus-one-crc-recomputed"] = new(
            p => B.WithInt32(B.WithInt32(Valid(p), B.RecordCountOffset, 3), B.LastOffsetDeltaOffset, 2), ErrorCode.CorruptMessage, "does not decode to the 3 records"),
        ["record-count-minus-one-crc-recomputed"] = new(
            p => B.WithInt32(B.WithInt32(Valid(p), B.RecordCountOffset, 1), B.LastOffsetDeltaOffset, 0), ErrorCode.CorruptMessage, "does not decode to the 1 records"),
        ["record-count-zero"] = new(p => B.WithInt32(B.WithInt32(Valid(p), B.RecordCountOffset, 0), B.LastOffsetDeltaOffset, -1), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["record-count-negative"] = new(p => B.WithInt32(Valid(p), B.RecordCountOffset, -5), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["negative-base-sequence-with-pid"] = new(p => B.WithInt32(Valid(p), B.BaseSequenceOffset, -1), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["min-base-sequence-with-pid"] = new(p => B.WithInt32(Valid(p), B.BaseSequenceOffset, int.MinValue), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["negative-epoch-with-pid"] = new(p => B.WithInt16(Valid(p), B.ProducerEpochOffset, -1), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["wrapped-epoch-with-pid"] = new(p => B.WithInt16(Valid(p), B.ProducerEpochOffset, short.MinValue), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["producer-id-minus-two"] = new(p => B.WithInt64(Valid(p), B.ProducerIdOffset, -2), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["magic-one"] = new(p => Set(Valid(p), B.MagicOffset, 1), ErrorCode.UnsupportedForMessageFormat, "magic 1 is not supported"),
        ["magic-three"] = new(p => Set(Valid(p), B.MagicOffset, 3), ErrorCode.UnsupportedForMessageFormat, "magic 3 is not supported"),
        ["gzip-attribute"] = new(p => B.WithInt16(Valid(p), B.AttributesOffset, (short)CompressionType.Gzip), ErrorCode.UnsupportedCompressionType, "is not supported yet"),
        ["transactional-attribute"] = new(p => B.WithInt16(Valid(p), B.AttributesOffset, 0x10), ErrorCode.InvalidRecord, "Transactional batches are not supported yet"),
        ["control-attribute"] = new(p => B.WithInt16(Valid(p), B.AttributesOffset, 0x20), ErrorCode.InvalidRecord, "header is inconsistent"),
        ["over-max-message-bytes"] = new(p => B.Build(p.ProducerA.ProducerId, p.ProducerA.ProducerEpoch, 1, new string('x', MaxMessageBytes)), ErrorCode.MessageTooLarge, "larger than max.message.bytes 4096"),
        ["one-byte-over-max-message-bytes"] = new(ExactlyOneByteOver, ErrorCode.MessageTooLarge, "larger than max.message.bytes 4096"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task ProduceAsync_MalformedBatch_ReturnsExactErrorWritesNothingAndKeepsServing(string name)
    {
        BadBatch bad = Cases[name];
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, MaxMessageBytes);
        await probe.TakeBeforeAsync();

        ProduceResult result = await probe.Partition.ProduceAsync(bad.Build(probe)!);
        ProduceResult again = await probe.Partition.ProduceAsync(bad.Build(probe)!);

        PartitionProbe.AssertRefused(result, bad.Expected, bad.Reason);
        Assert.Equal(result, again);
        await probe.AssertUnchangedAndServingAsync();
    }

    /// <summary>The limit is inclusive: a batch of exactly max.message.bytes is accepted, one byte more is refused.</summary>
    [Fact]
    public async Task ProduceAsync_BatchOfExactlyMaxMessageBytes_IsAccepted()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, MaxMessageBytes);
        byte[] batch = SizedBatch(probe, MaxMessageBytes);

        ProduceResult result = await probe.Partition.ProduceAsync(batch);

        Assert.Equal(MaxMessageBytes, batch.Length);
        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(1, result.BaseOffset);
    }

    [Fact]
    public async Task ProduceAsync_EpochRegression_ReturnsInvalidProducerEpochWithCurrentEpochAndWritesNothing()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, MaxMessageBytes);
        short oldEpoch = probe.ProducerA.ProducerEpoch;
        await probe.BumpProducerAAsync();
        await probe.TakeBeforeAsync();

        ProduceResult zombie = await probe.Partition.ProduceAsync(B.Build(probe.ProducerA.ProducerId, oldEpoch, 1, "zombie"));
        ProduceResult zombieFromZero = await probe.Partition.ProduceAsync(B.Build(probe.ProducerA.ProducerId, oldEpoch, 0, "zombie"));

        PartitionProbe.AssertRefused(zombie, ErrorCode.InvalidProducerEpoch, "is fenced by epoch 1");
        Assert.Equal((short)1, zombie.CurrentEpoch);
        PartitionProbe.AssertRefused(zombieFromZero, ErrorCode.InvalidProducerEpoch, "is fenced by epoch 1");
        await probe.AssertUnchangedAndServingAsync();
    }

    /// <summary>
    /// The partition accepts any epoch of a producer it has no newer state for, up to <see cref="short.MaxValue"/>; the next value wraps negative and is
    /// refused as an inconsistent header, never taken as a lower (fencing) or higher epoch. The registry itself never hands out an epoch above
    /// 32766: an exhausted epoch gets a new PID (see <see cref="EpochMatrixTests"/>).
    /// </summary>
    [Fact]
    public async Task ProduceAsync_EpochAtShortMaxValueThenWrapped_AcceptsMaxAndRefusesWrappedAsInvalidRecord()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, MaxMessageBytes);
        long pid = probe.ProducerA.ProducerId;

        ProduceResult atMax = await probe.Partition.ProduceAsync(B.Build(pid, short.MaxValue, 0, "max"));
        ProduceResult wrapped = await probe.Partition.ProduceAsync(B.Build(pid, unchecked((short)(short.MaxValue + 1)), 0, "wrapped"));
        ProduceResult older = await probe.Partition.ProduceAsync(B.Build(pid, 0, 1, "older"));

        Assert.Equal(ErrorCode.None, atMax.Error);
        Assert.Equal(1, atMax.BaseOffset);
        PartitionProbe.AssertRefused(wrapped, ErrorCode.InvalidRecord, "header is inconsistent");
        PartitionProbe.AssertRefused(older, ErrorCode.InvalidProducerEpoch, $"is fenced by epoch {short.MaxValue}");
        Assert.Equal(short.MaxValue, older.CurrentEpoch);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 2, 2), await probe.Partition.ListOffsetsAsync());
        ProduceResult next = await probe.Partition.ProduceAsync(B.Build(pid, short.MaxValue, 1, "max-next"));
        Assert.Equal(ErrorCode.None, next.Error);
        Assert.Equal(2, next.BaseOffset);
    }

    private static byte[] Valid(PartitionProbe probe) =>
        B.Build(probe.ProducerA.ProducerId, probe.ProducerA.ProducerEpoch, probe.NextSequenceA, "a1", "a2");

    private static byte[] Flip(byte[] batch, Index at)
    {
        batch[at] ^= 0x5A;
        return batch;
    }

    private static byte[] Set(byte[] batch, int at, byte value)
    {
        batch[at] = value;
        return batch;
    }

    private static byte[] ExactlyOneByteOver(PartitionProbe probe) => SizedBatch(probe, MaxMessageBytes + 1);

    /// <summary>A valid one-record batch of exactly <paramref name="size"/> bytes from producer A at its next sequence.</summary>
    private static byte[] SizedBatch(PartitionProbe probe, int size)
    {
        int valueLength = size - 100;
        for (int attempt = 0; attempt < 200; attempt++)
        {
            byte[] batch = B.Build(probe.ProducerA.ProducerId, probe.ProducerA.ProducerEpoch, probe.NextSequenceA, new string('s', valueLength));
            if (batch.Length == size)
            {
                return batch;
            }

            valueLength += size - batch.Length;
        }

        throw new InvalidOperationException($"No value length gives a batch of {size} bytes.");
    }

    private sealed record BadBatch(Func<PartitionProbe, byte[]?> Build, ErrorCode Expected, string Reason);
}
