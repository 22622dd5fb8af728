using OrleansBroker.Log.Tests.TestDoubles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.State;

/// <summary>SEMANTICS.md append rules 1–8, at the partition log, asserting the log's content, the acknowledged offsets and the status.</summary>
public sealed class PartitionLogAppendRuleTests
{
    private const long Pid = 1000;
    private readonly LogHarness _harness = new();

    private static async Task<LogAppendResult> AppendAsync(PartitionLog log, byte[] batch) => await log.AppendAsync(batch.ToArray());

    [Fact]
    public async Task AppendAsync_Rule1_NoProducerId_EveryCopyAppended()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(-1, -1, -1, records: 2, tag: "plain");

        LogAppendResult first = await AppendAsync(log, batch);
        LogAppendResult second = await AppendAsync(log, batch);

        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 0, TestBatches.BaseTime + 1), first);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 2, TestBatches.BaseTime + 1), second);
        Assert.Equal(["plain-0", "plain-1", "plain-0", "plain-1"], await LogHarness.ReadValuesAsync(log));
        Assert.Equal(0, log.ProducerState.ProducerCount);
    }

    [Fact]
    public async Task OpenAsync_Rule2_FirstAppendAfterOpen_SeesRecoveredState()
    {
        PartitionLog crashed = await _harness.OpenAsync();
        Assert.Equal(AppendStatus.Appended, (await AppendAsync(crashed, TestBatches.Create(Pid, 0, 0, records: 3))).Status);
        _harness.Disk.Crash();

        await using PartitionLog log = await _harness.OpenAsync();

        // Empty state would accept any sequence for an unknown producer (rule 7) and write a second copy; recovered state does not.
        LogAppendResult retry = await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 3));
        LogAppendResult gap = await AppendAsync(log, TestBatches.Create(Pid, 0, 5));
        Assert.Equal(AppendStatus.Duplicate, retry.Status);
        Assert.Equal(0, retry.BaseOffset);
        Assert.Equal(AppendStatus.OutOfOrderSequence, gap.Status);
        Assert.Equal(3, gap.ExpectedSequence);
        Assert.Equal(3, log.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_Rule2_SecondWriterOnSameDisk_FencedBeforeAnyAppend()
    {
        await using PartitionLog owner = await _harness.OpenAsync();

        await Assert.ThrowsAsync<LogFencedException>(async () => await PartitionLog.OpenAsync(new MemoryLogStore(_harness.Disk), _harness.Options, _harness.Time));

        Assert.Equal(AppendStatus.Appended, (await AppendAsync(owner, TestBatches.Create(Pid, 0, 0))).Status);
    }

    [Fact]
    public async Task AppendAsync_Rule3_S8_OldEpochAfterBump_InvalidProducerEpochNothingWritten()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, tag: "old-a"));
        await AppendAsync(log, TestBatches.Create(Pid, 1, 0, tag: "new-a"));

        LogAppendResult zombie = await AppendAsync(log, TestBatches.Create(Pid, 0, 1, tag: "old-b"));

        Assert.Equal(AppendStatus.InvalidProducerEpoch, zombie.Status);
        Assert.Equal((short)1, zombie.CurrentEpoch);
        Assert.Equal(-1, zombie.BaseOffset);
        Assert.NotNull(zombie.Message);
        Assert.Equal(["old-a-0", "new-a-0"], await LogHarness.ReadValuesAsync(log));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task AppendAsync_Rule4_DuplicateOfEachOfLastFive_OriginalOffsetAndTimestamp(int index)
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(-1, -1, -1, tag: "other"));
        var acks = new List<LogAppendResult>();
        for (int i = 0; i < 5; i++)
        {
            acks.Add(await AppendAsync(log, TestBatches.Create(Pid, 0, 2 * i, records: 2, timestamp: 5000 + (100 * i), tag: $"b{i}")));
        }

        LogAppendResult retry = await AppendAsync(log, TestBatches.Create(Pid, 0, 2 * index, records: 2, timestamp: 999_999, tag: "retry"));

        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, 1 + (2 * index), 5000 + (100 * index) + 1), retry);
        Assert.Equal(acks[index].BaseOffset, retry.BaseOffset);
        Assert.Equal(acks[index].Timestamp, retry.Timestamp);
        Assert.Equal(11, log.LogEndOffset);
        Assert.DoesNotContain("retry-0", await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_Rule4_SixthOldestBatch_OutOfOrderSequenceNothingWritten()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        for (int i = 0; i < 6; i++)
        {
            await AppendAsync(log, TestBatches.Create(Pid, 0, i));
        }

        LogAppendResult oldest = await AppendAsync(log, TestBatches.Create(Pid, 0, 0));
        LogAppendResult fifth = await AppendAsync(log, TestBatches.Create(Pid, 0, 1));

        Assert.Equal(AppendStatus.OutOfOrderSequence, oldest.Status);
        Assert.Equal(6, oldest.ExpectedSequence);
        Assert.Equal(AppendStatus.Duplicate, fifth.Status);
        Assert.Equal(1, fifth.BaseOffset);
        Assert.Equal(6, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_Rule4_SameFirstSequenceDifferentLast_NotDuplicate()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2));

        LogAppendResult bigger = await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 3));

        Assert.Equal(AppendStatus.OutOfOrderSequence, bigger.Status);
        Assert.Equal(2, bigger.ExpectedSequence);
        Assert.Equal(2, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_Rule5_S6_NewEpochNonZeroSequence_OutOfOrderExpectingZero()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 4));

        LogAppendResult stale = await AppendAsync(log, TestBatches.Create(Pid, 1, 4));

        Assert.Equal(AppendStatus.OutOfOrderSequence, stale.Status);
        Assert.Equal(0, stale.ExpectedSequence);
        Assert.Equal(-1, stale.BaseOffset);
        Assert.Equal(4, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_Rule5_NewEpochAtZero_AppendedHistoryClearedOldRetryFenced()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2, tag: "e0"));

        LogAppendResult bump = await AppendAsync(log, TestBatches.Create(Pid, 1, 0, records: 2, tag: "e1"));
        LogAppendResult oldRetry = await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2, tag: "e0"));

        Assert.Equal(AppendStatus.Appended, bump.Status);
        Assert.Equal(2, bump.BaseOffset);
        Assert.True(log.ProducerState.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal([new BatchMetadata(0, 1, 2, 3, TestBatches.BaseTime + 1)], entry.Batches);
        Assert.Equal(AppendStatus.InvalidProducerEpoch, oldRetry.Status);
        Assert.Equal(["e0-0", "e0-1", "e1-0", "e1-1"], await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_Rule6_SequenceGap_OutOfOrderWithExpectedSequence()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 3));

        LogAppendResult gap = await AppendAsync(log, TestBatches.Create(Pid, 0, 4));
        LogAppendResult next = await AppendAsync(log, TestBatches.Create(Pid, 0, 3));

        Assert.Equal(AppendStatus.OutOfOrderSequence, gap.Status);
        Assert.Equal(3, gap.ExpectedSequence);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 3, TestBatches.BaseTime), next);
    }

    [Fact]
    public async Task AppendAsync_Rule6_SequenceWrapAcrossIntMax_NextAtOneAppended()
    {
        await using PartitionLog log = await _harness.OpenAsync();

        LogAppendResult wrap = await AppendAsync(log, TestBatches.Create(Pid, 0, int.MaxValue - 1, records: 3, tag: "wrap"));
        LogAppendResult retry = await AppendAsync(log, TestBatches.Create(Pid, 0, int.MaxValue - 1, records: 3, tag: "wrap"));
        LogAppendResult atZero = await AppendAsync(log, TestBatches.Create(Pid, 0, 0, tag: "bad"));
        LogAppendResult atOne = await AppendAsync(log, TestBatches.Create(Pid, 0, 1, tag: "next"));

        Assert.Equal(AppendStatus.Appended, wrap.Status);
        Assert.Equal(AppendStatus.Duplicate, retry.Status);
        Assert.Equal(0, retry.BaseOffset);
        Assert.Equal(AppendStatus.OutOfOrderSequence, atZero.Status);
        Assert.Equal(1, atZero.ExpectedSequence);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 3, TestBatches.BaseTime), atOne);
        Assert.Equal(["wrap-0", "wrap-1", "wrap-2", "next-0"], await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_Rule7_S4_UnknownProducer_AcceptsSequenceSeven()
    {
        await using PartitionLog log = await _harness.OpenAsync();

        LogAppendResult result = await AppendAsync(log, TestBatches.Create(Pid, 0, 7, tag: "seven"));

        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 0, TestBatches.BaseTime), result);
        Assert.Equal(["seven-0"], await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_Rule7_S4_AfterExpiry_AcceptsSequenceSevenWithoutErrorLoop()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2, tag: "early"));
        _harness.Time.Advance(_harness.Options.ProducerIdExpiration + TimeSpan.FromSeconds(1));
        Assert.Equal(1, log.RemoveExpiredProducers());

        LogAppendResult seven = await AppendAsync(log, TestBatches.Create(Pid, 0, 7, tag: "late"));
        LogAppendResult eight = await AppendAsync(log, TestBatches.Create(Pid, 0, 8, tag: "later"));

        Assert.Equal(AppendStatus.Appended, seven.Status);
        Assert.Equal(2, seven.BaseOffset);
        Assert.Equal(AppendStatus.Appended, eight.Status);
        Assert.Equal(["early-0", "early-1", "late-0", "later-0"], await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_Rule8_StoreFails_ProducerStateUnchanged()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0));
        _harness.Disk.NextAppendFault = AppendFault.FailBeforeWrite;

        await Assert.ThrowsAsync<LogStorageException>(async () => await AppendAsync(log, TestBatches.Create(Pid, 0, 1)));

        Assert.True(log.ProducerState.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal(0, entry.LastSequence);
        Assert.Single(entry.Batches);
        await log.DisposeAsync();
    }

    [Fact]
    public async Task AppendAsync_Rule8_StoredBatchCarriesDedupFacts()
    {
        await using PartitionLog log = await _harness.OpenAsync();

        await AppendAsync(log, TestBatches.Create(Pid, 3, 40, records: 2));

        StoredBatch stored = Assert.Single(await LogHarness.ReadAllAsync(log));
        Assert.Equal((Pid, (short)3, 40, 41, 0L), (stored.Header.ProducerId, stored.Header.ProducerEpoch, stored.Header.BaseSequence, stored.Header.LastSequence, stored.Header.BaseOffset));
    }

    [Fact]
    public async Task AppendAsync_S2_BatchesTwoToFiveBeforeOne_OutOfOrderThenEachRecordOnceInOrder()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2, tag: "pre"));
        byte[][] inflight = Enumerable.Range(0, 5).Select(i => TestBatches.Create(Pid, 0, 2 + (3 * i), records: 3, tag: $"f{i}")).ToArray();

        // Batch 1 failed with a retriable error and never arrived; 2-5 arrive and are refused.
        for (int i = 1; i < 5; i++)
        {
            LogAppendResult refused = await AppendAsync(log, inflight[i]);
            Assert.Equal(AppendStatus.OutOfOrderSequence, refused.Status);
            Assert.Equal(2, refused.ExpectedSequence);
        }

        var offsets = new List<long>();
        foreach (byte[] batch in inflight)
        {
            LogAppendResult ok = await AppendAsync(log, batch);
            Assert.Equal(AppendStatus.Appended, ok.Status);
            offsets.Add(ok.BaseOffset);
        }

        // A second retry of all five is absorbed.
        foreach (byte[] batch in inflight)
        {
            Assert.Equal(AppendStatus.Duplicate, (await AppendAsync(log, batch)).Status);
        }

        Assert.Equal([2L, 5, 8, 11, 14], offsets);
        string[] expected = ["pre-0", "pre-1", .. Enumerable.Range(0, 5).SelectMany(i => new[] { $"f{i}-0", $"f{i}-1", $"f{i}-2" })];
        Assert.Equal(expected, await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_TwoProducers_SequencesAreIndependent()
    {
        await using PartitionLog log = await _harness.OpenAsync();

        await AppendAsync(log, TestBatches.Create(1, 0, 0));
        await AppendAsync(log, TestBatches.Create(2, 0, 0));
        LogAppendResult one = await AppendAsync(log, TestBatches.Create(1, 0, 1));
        LogAppendResult twoGap = await AppendAsync(log, TestBatches.Create(2, 0, 2));

        Assert.Equal(AppendStatus.Appended, one.Status);
        Assert.Equal(AppendStatus.OutOfOrderSequence, twoGap.Status);
        Assert.Equal(1, twoGap.ExpectedSequence);
        Assert.Equal(2, log.ProducerState.ProducerCount);
    }

    [Fact]
    public async Task AppendAsync_BaseOffsetRewrittenInPlace_CrcStillValid()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(-1, -1, -1, records: 4));
        byte[] batch = TestBatches.Create(Pid, 0, 0);

        await log.AppendAsync(batch);

        Assert.True(RecordBatchHeader.TryRead(batch, out RecordBatchHeader header));
        Assert.Equal(4, header.BaseOffset);
        Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch, int.MaxValue, out _));
        Assert.Equal([0L, 4], (await LogHarness.ReadAllAsync(log)).Select(b => b.Header.BaseOffset));
    }
}
