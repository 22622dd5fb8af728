using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.State;

public sealed class ProducerStateManagerTests
{
    private const long Pid = 42;
    private static readonly TimeSpan Expiration = TimeSpan.FromHours(1);

    private readonly FakeTimeProvider _time = new();
    private readonly ProducerStateManager _state;

    public ProducerStateManagerTests() => _state = new ProducerStateManager(Expiration, _time);

    private static RecordBatchHeader Batch(long pid, short epoch, int baseSequence, int records = 1, long timestamp = 1000) => new()
    {
        ProducerId = pid,
        ProducerEpoch = epoch,
        BaseSequence = baseSequence,
        RecordCount = records,
        LastOffsetDelta = records - 1,
        MaxTimestamp = timestamp,
    };

    /// <summary>Appends <paramref name="count"/> batches of 2 records at offsets 0, 2, 4...; batch i has timestamp 1000 + i.</summary>
    private void AppendBatches(short epoch, int count, int firstSequence = 0)
    {
        for (int i = 0; i < count; i++)
        {
            RecordBatchHeader header = Batch(Pid, epoch, firstSequence + (2 * i), 2, 1000 + i);
            Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(header).Kind);
            _state.Update(header, 2L * i);
        }
    }

    [Fact]
    public void CheckAppend_Rule7_UnknownProducer_AcceptsAnySequence()
    {
        AppendCheck check = _state.CheckAppend(Batch(Pid, 3, 7));

        Assert.Equal(AppendCheckKind.Accept, check.Kind);
        Assert.Equal(-1, check.CurrentEpoch);
    }

    [Fact]
    public void CheckAppend_Rule1_NoProducerId_Throws() =>
        Assert.Throws<ArgumentException>(() => _state.CheckAppend(Batch(-1, -1, -1)));

    [Fact]
    public void CheckAppend_Rule3_LowerEpoch_InvalidProducerEpochWithCurrentEpoch()
    {
        RecordBatchHeader header = Batch(Pid, 4, 0);
        _state.Update(header, 0);

        AppendCheck check = _state.CheckAppend(Batch(Pid, 3, 1));

        Assert.Equal(AppendCheckKind.InvalidProducerEpoch, check.Kind);
        Assert.Equal((short)4, check.CurrentEpoch);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void CheckAppend_Rule4_RetryOfEachOfLastFive_DuplicateWithOriginal(int index)
    {
        AppendBatches(epoch: 0, count: 5);

        AppendCheck check = _state.CheckAppend(Batch(Pid, 0, 2 * index, 2));

        Assert.Equal(AppendCheckKind.Duplicate, check.Kind);
        Assert.Equal(new BatchMetadata(2 * index, (2 * index) + 1, 2L * index, (2L * index) + 1, 1000 + index), check.Duplicate);
    }

    [Fact]
    public void CheckAppend_Rule4_SixthOldestBatch_NotDuplicateButOutOfOrder()
    {
        AppendBatches(epoch: 0, count: 6);

        AppendCheck oldest = _state.CheckAppend(Batch(Pid, 0, 0, 2));
        AppendCheck fifthNewest = _state.CheckAppend(Batch(Pid, 0, 2, 2));

        Assert.Equal(AppendCheckKind.OutOfOrderSequence, oldest.Kind);
        Assert.Equal(12, oldest.ExpectedSequence);
        Assert.Equal(AppendCheckKind.Duplicate, fifthNewest.Kind);
        Assert.Equal(2, fifthNewest.Duplicate.FirstOffset);
    }

    [Fact]
    public void CheckAppend_Rule4_SameFirstSequenceDifferentLast_NotDuplicate()
    {
        AppendBatches(epoch: 0, count: 3);

        AppendCheck check = _state.CheckAppend(Batch(Pid, 0, 2, 3));

        Assert.Equal(AppendCheckKind.OutOfOrderSequence, check.Kind);
        Assert.Equal(6, check.ExpectedSequence);
    }

    [Fact]
    public void CheckAppend_Rule5_HigherEpochNonZeroSequence_OutOfOrderExpectingZero()
    {
        AppendBatches(epoch: 0, count: 2);

        AppendCheck check = _state.CheckAppend(Batch(Pid, 1, 4));

        Assert.Equal(AppendCheckKind.OutOfOrderSequence, check.Kind);
        Assert.Equal(0, check.ExpectedSequence);
    }

    [Fact]
    public void CheckAppend_Rule5_HigherEpochAtZero_AcceptedAndUpdateClearsHistory()
    {
        AppendBatches(epoch: 0, count: 3);
        RecordBatchHeader bump = Batch(Pid, 1, 0, 1, 5000);

        Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(bump).Kind);
        _state.Update(bump, 6);

        Assert.True(_state.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal((short)1, entry.ProducerEpoch);
        Assert.Equal([new BatchMetadata(0, 0, 6, 6, 5000)], entry.Batches);
        AppendCheck oldEpochRetry = _state.CheckAppend(Batch(Pid, 0, 0, 2));
        Assert.Equal(AppendCheckKind.InvalidProducerEpoch, oldEpochRetry.Kind);
        Assert.Equal((short)1, oldEpochRetry.CurrentEpoch);
    }

    [Fact]
    public void CheckAppend_Rule6_SameEpochGap_OutOfOrderWithExpected()
    {
        AppendBatches(epoch: 0, count: 2);

        AppendCheck gap = _state.CheckAppend(Batch(Pid, 0, 5));
        AppendCheck next = _state.CheckAppend(Batch(Pid, 0, 4));

        Assert.Equal(AppendCheckKind.OutOfOrderSequence, gap.Kind);
        Assert.Equal(4, gap.ExpectedSequence);
        Assert.Equal(AppendCheckKind.Accept, next.Kind);
    }

    [Fact]
    public void CheckAppend_Rule6_SequenceWrapsPastIntMax_NextStartsAtOne()
    {
        RecordBatchHeader wrapping = Batch(Pid, 0, int.MaxValue - 1, 3, 2000);
        _state.Update(wrapping, 10);

        Assert.True(_state.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal(0, entry.LastSequence);
        Assert.Equal(AppendCheckKind.Duplicate, _state.CheckAppend(Batch(Pid, 0, int.MaxValue - 1, 3)).Kind);
        Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(Batch(Pid, 0, 1)).Kind);
        AppendCheck wrong = _state.CheckAppend(Batch(Pid, 0, 0));
        Assert.Equal(AppendCheckKind.OutOfOrderSequence, wrong.Kind);
        Assert.Equal(1, wrong.ExpectedSequence);
    }

    [Fact]
    public void CheckAppend_Rule6_LastSequenceIntMax_ExpectsZero()
    {
        _state.Update(Batch(Pid, 0, int.MaxValue - 1, 2), 0);

        Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(Batch(Pid, 0, 0)).Kind);
        Assert.Equal(0, _state.CheckAppend(Batch(Pid, 0, int.MaxValue)).ExpectedSequence);
    }

    [Fact]
    public void CheckAppend_Rule6_KnownEpochEmptyHistory_AcceptsAnySequence()
    {
        // A snapshot may carry a producer with its epoch and no batch: nothing to continue, so any sequence (rule 7's reasoning).
        byte[] snapshot = HandMadeSnapshot(offset: 0, producerId: Pid, epoch: 2, lastUpdatedMs: 946_684_800_000, batchCount: 0);
        Assert.True(_state.TryLoadSnapshot(snapshot, out _));

        Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(Batch(Pid, 2, 9)).Kind);
        Assert.Equal(AppendCheckKind.InvalidProducerEpoch, _state.CheckAppend(Batch(Pid, 1, 9)).Kind);
        Assert.Equal(0, _state.CheckAppend(Batch(Pid, 3, 9)).ExpectedSequence);
    }

    [Fact]
    public void CheckAppend_AfterExpirationTimeWithoutRemoveExpired_StillDeduplicates()
    {
        AppendBatches(epoch: 0, count: 1);
        _time.Advance(Expiration * 2);

        AppendCheck check = _state.CheckAppend(Batch(Pid, 0, 0, 2));

        Assert.Equal(AppendCheckKind.Duplicate, check.Kind);
        Assert.Equal(1, _state.ProducerCount);
    }

    [Fact]
    public void Update_MoreThanFiveBatches_KeepsFiveNewestOldestFirst()
    {
        AppendBatches(epoch: 0, count: 7);

        Assert.True(_state.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal([4, 6, 8, 10, 12], entry.Batches.Select(b => b.FirstSequence));
        Assert.Equal([4L, 6, 8, 10, 12], entry.Batches.Select(b => b.FirstOffset));
        Assert.Equal(13, entry.LastSequence);
    }

    [Fact]
    public void RemoveExpired_IdleProducer_RemovedAndNextSequenceAccepted()
    {
        AppendBatches(epoch: 0, count: 2);
        _time.Advance(Expiration);

        Assert.Equal(1, _state.RemoveExpired());
        Assert.False(_state.TryGetEntry(Pid, out _));
        Assert.Equal(AppendCheckKind.Accept, _state.CheckAppend(Batch(Pid, 0, 7)).Kind);
    }

    [Fact]
    public void RemoveExpired_RecentActivity_Kept()
    {
        AppendBatches(epoch: 0, count: 1);
        _state.Update(Batch(7, 0, 0), 2);
        _time.Advance(Expiration - TimeSpan.FromMinutes(1));
        _state.Update(Batch(7, 0, 1), 3);
        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(1, _state.RemoveExpired());
        Assert.False(_state.TryGetEntry(Pid, out _));
        Assert.True(_state.TryGetEntry(7, out ProducerStateEntry kept));
        Assert.Equal(2, kept.Batches.Count);
    }

    [Fact]
    public void CreateSnapshot_RoundTrip_KeepsAllFiveBatchesExactly()
    {
        AppendBatches(epoch: 3, count: 7);
        _time.Advance(TimeSpan.FromMilliseconds(1234.5678));
        _state.Update(Batch(99, 0, int.MaxValue, 2, 77), 14);
        byte[] snapshot = _state.CreateSnapshot(16);

        var loaded = new ProducerStateManager(Expiration, _time);
        Assert.True(loaded.TryLoadSnapshot(snapshot, out long offset));

        Assert.Equal(16, offset);
        Assert.Equal(2, loaded.ProducerCount);
        Assert.True(_state.TryGetEntry(Pid, out ProducerStateEntry original));
        Assert.True(loaded.TryGetEntry(Pid, out ProducerStateEntry restored));
        Assert.Equal(5, restored.Batches.Count);
        Assert.Equal(original.Batches, restored.Batches);
        Assert.Equal(original.ProducerEpoch, restored.ProducerEpoch);
        Assert.Equal(original.LastUpdated, restored.LastUpdated);
        Assert.True(loaded.TryGetEntry(99, out ProducerStateEntry other));
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), other.LastUpdated.ToUnixTimeMilliseconds());
        Assert.Equal([new BatchMetadata(int.MaxValue, 0, 14, 15, 77)], other.Batches);
        Assert.Equal(snapshot, loaded.CreateSnapshot(16));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(AppendCheckKind.Duplicate, loaded.CheckAppend(Batch(Pid, 3, 4 + (2 * i), 2)).Kind);
        }
    }

    [Fact]
    public void CreateSnapshot_Layout_MatchesDocumentedFormat()
    {
        _state.Update(Batch(Pid, 5, 10, 3, 4444), 100);
        long updatedMs = _time.GetUtcNow().ToUnixTimeMilliseconds();

        byte[] s = _state.CreateSnapshot(103);

        Assert.Equal(18 + 22 + 32, s.Length);
        Assert.Equal(ProducerStateManager.SnapshotVersion, BinaryPrimitives.ReadInt16BigEndian(s));
        Assert.Equal(Crc32C.Compute(s.AsSpan(6)), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(2)));
        Assert.Equal(103, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(6)));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(14)));
        Assert.Equal(Pid, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(18)));
        Assert.Equal(5, BinaryPrimitives.ReadInt16BigEndian(s.AsSpan(26)));
        Assert.Equal(updatedMs, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(28)));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(36)));
        Assert.Equal(10, BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(40)));
        Assert.Equal(12, BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(44)));
        Assert.Equal(100, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(48)));
        Assert.Equal(102, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(56)));
        Assert.Equal(4444, BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(64)));
    }

    [Fact]
    public void TryLoadSnapshot_EveryFlippedByte_ReturnsFalseAndKeepsMap()
    {
        AppendBatches(epoch: 0, count: 2);
        byte[] snapshot = _state.CreateSnapshot(4);
        var target = new ProducerStateManager(Expiration, _time);
        target.Update(Batch(5, 0, 0), 0);

        for (int i = 0; i < snapshot.Length; i++)
        {
            byte[] corrupt = snapshot.ToArray();
            corrupt[i] ^= 0x10;
            Assert.False(target.TryLoadSnapshot(corrupt, out long offset), $"byte {i}");
            Assert.Equal(-1, offset);
        }

        Assert.Equal(1, target.ProducerCount);
        Assert.True(target.TryGetEntry(5, out _));
    }

    [Fact]
    public void TryLoadSnapshot_EveryTruncation_ReturnsFalseAndKeepsMap()
    {
        AppendBatches(epoch: 0, count: 2);
        byte[] snapshot = _state.CreateSnapshot(4);
        var target = new ProducerStateManager(Expiration, _time);
        target.Update(Batch(5, 0, 0), 0);

        for (int length = 0; length < snapshot.Length; length++)
        {
            Assert.False(target.TryLoadSnapshot(snapshot.AsSpan(0, length), out _), $"length {length}");
        }

        Assert.True(target.TryGetEntry(5, out _));
        Assert.False(target.TryGetEntry(Pid, out _));
    }

    [Fact]
    public void TryLoadSnapshot_UnknownVersionOrTrailingBytes_ReturnsFalse()
    {
        AppendBatches(epoch: 0, count: 1);
        byte[] snapshot = _state.CreateSnapshot(2);
        byte[] version2 = snapshot.ToArray();
        BinaryPrimitives.WriteInt16BigEndian(version2, 2);
        byte[] trailing = [.. snapshot, 0];
        BinaryPrimitives.WriteUInt32BigEndian(trailing.AsSpan(2), Crc32C.Compute(trailing.AsSpan(6)));
        var target = new ProducerStateManager(Expiration, _time);

        Assert.False(target.TryLoadSnapshot(version2, out _));
        Assert.False(target.TryLoadSnapshot(trailing, out _));
        Assert.True(target.TryLoadSnapshot(snapshot, out long offset));
        Assert.Equal(2, offset);
    }

    [Fact]
    public void TryLoadSnapshot_MoreThanFiveBatches_ReturnsFalse()
    {
        byte[] snapshot = HandMadeSnapshot(offset: 0, producerId: Pid, epoch: 0, lastUpdatedMs: 0, batchCount: 6);

        Assert.False(_state.TryLoadSnapshot(snapshot, out _));
        Assert.Equal(0, _state.ProducerCount);
    }

    /// <summary>Writes the documented format by hand (not through <see cref="ProducerStateManager.CreateSnapshot"/>).</summary>
    private static byte[] HandMadeSnapshot(long offset, long producerId, short epoch, long lastUpdatedMs, int batchCount)
    {
        byte[] s = new byte[18 + 22 + (32 * batchCount)];
        BinaryPrimitives.WriteInt16BigEndian(s, 1);
        BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(6), offset);
        BinaryPrimitives.WriteInt32BigEndian(s.AsSpan(14), 1);
        BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(18), producerId);
        BinaryPrimitives.WriteInt16BigEndian(s.AsSpan(26), epoch);
        BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(28), lastUpdatedMs);
        BinaryPrimitives.WriteInt32BigEndian(s.AsSpan(36), batchCount);
        for (int b = 0; b < batchCount; b++)
        {
            int p = 40 + (32 * b);
            BinaryPrimitives.WriteInt32BigEndian(s.AsSpan(p), b);
            BinaryPrimitives.WriteInt32BigEndian(s.AsSpan(p + 4), b);
            BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(p + 8), b);
            BinaryPrimitives.WriteInt64BigEndian(s.AsSpan(p + 16), b);
        }

        BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(2), Crc32C.Compute(s.AsSpan(6)));
        return s;
    }
}
