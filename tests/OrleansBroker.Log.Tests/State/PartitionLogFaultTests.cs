using OrleansBroker.Log.Tests.TestDoubles;

namespace OrleansBroker.Log.Tests.State;

/// <summary>Storage faults: the log faults, recovery decides what was written, and the producer's resend is written exactly once.</summary>
public sealed class PartitionLogFaultTests
{
    private const long Pid = 9;
    private readonly LogHarness _harness = new();

    private static async Task<LogAppendResult> AppendAsync(PartitionLog log, byte[] batch) => await log.AppendAsync(batch.ToArray());

    [Fact]
    public async Task AppendAsync_StoreFailsBeforeWrite_FaultedReopenedResendAppendedOnce()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, tag: "a"));
        _harness.Disk.NextAppendFault = AppendFault.FailBeforeWrite;
        byte[] batch = TestBatches.Create(Pid, 0, 1, records: 2, tag: "b");

        await Assert.ThrowsAsync<LogStorageException>(async () => await AppendAsync(log, batch));
        Assert.True(log.IsFaulted);
        await log.DisposeAsync();

        await using PartitionLog reopened = await _harness.OpenAsync();
        Assert.Equal(1, reopened.LogEndOffset);
        LogAppendResult resend = await AppendAsync(reopened, batch);
        LogAppendResult again = await AppendAsync(reopened, batch);

        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 1, TestBatches.BaseTime + 1), resend);
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, 1, TestBatches.BaseTime + 1), again);
        Assert.Equal(["a-0", "b-0", "b-1"], await LogHarness.ReadValuesAsync(reopened));
    }

    [Fact]
    public async Task AppendAsync_S1_LostAckAfterBytesStored_ReopenedResendIsDuplicateWithOriginalOffset()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, records: 2, tag: "a"));
        _harness.Disk.NextAppendFault = AppendFault.FailAfterWrite;
        byte[] batch = TestBatches.Create(Pid, 0, 2, records: 3, timestamp: 50_000, tag: "lost");

        await Assert.ThrowsAsync<LogStorageException>(async () => await AppendAsync(log, batch));
        Assert.True(log.IsFaulted);
        await log.DisposeAsync();

        await using PartitionLog reopened = await _harness.OpenAsync();
        LogAppendResult resend = await AppendAsync(reopened, batch);

        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, 2, 50_002), resend);
        Assert.Equal(["a-0", "a-1", "lost-0", "lost-1", "lost-2"], await LogHarness.ReadValuesAsync(reopened));
    }

    [Fact]
    public async Task OpenAsync_TornLastBatch_TruncatedAndResendAppendedOnce()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, tag: "kept"));
        byte[] batch = TestBatches.Create(Pid, 0, 1, records: 2, tag: "torn");
        await AppendAsync(log, batch);
        long intactLength = _harness.Disk.LogLength - batch.Length;
        _harness.Disk.Crash();
        _harness.Disk.TearTail(10);

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(new LogRecoveryInfo(0, 1, 1, batch.Length - 10), reopened.Recovery.Store);
        Assert.Equal(intactLength, _harness.Disk.LogLength);
        LogAppendResult resend = await AppendAsync(reopened, batch);
        LogAppendResult again = await AppendAsync(reopened, batch);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 1, TestBatches.BaseTime + 1), resend);
        Assert.Equal(AppendStatus.Duplicate, again.Status);
        Assert.Equal(["kept-0", "torn-0", "torn-1"], await LogHarness.ReadValuesAsync(reopened));
    }

    [Fact]
    public async Task AppendAsync_AfterFault_ThrowsInvalidOperationAndDisposeSkipsCheckpoint()
    {
        PartitionLog log = await _harness.OpenAsync();
        _harness.Disk.NextAppendFault = AppendFault.FailBeforeWrite;
        await Assert.ThrowsAsync<LogStorageException>(async () => await AppendAsync(log, TestBatches.Create(Pid, 0, 0)));

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await AppendAsync(log, TestBatches.Create(Pid, 0, 0)));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await log.ReadAsync(0, 100));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await log.CheckpointAsync());
        await log.DisposeAsync();

        Assert.Equal(0, _harness.Disk.SnapshotWrites);
        Assert.Equal(0, _harness.Disk.Flushes);
        await using PartitionLog reopened = await _harness.OpenAsync();
        Assert.Equal(0, reopened.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_FencedByOtherWriter_FaultedNothingWritten()
    {
        PartitionLog stale = await _harness.OpenAsync();
        await AppendAsync(stale, TestBatches.Create(Pid, 0, 0, tag: "first"));
        _harness.Disk.Crash();
        await using PartitionLog owner = await _harness.OpenAsync();

        await Assert.ThrowsAsync<LogFencedException>(async () => await AppendAsync(stale, TestBatches.Create(Pid, 0, 1, tag: "zombie")));

        Assert.True(stale.IsFaulted);
        await stale.DisposeAsync();
        Assert.Equal(AppendStatus.Appended, (await AppendAsync(owner, TestBatches.Create(Pid, 0, 1, tag: "owner"))).Status);
        Assert.Equal(["first-0", "owner-0"], await LogHarness.ReadValuesAsync(owner));
    }

    [Fact]
    public async Task AppendAsync_SnapshotWriteFailsAfterRoll_StillAppendedAndRetriedNextAppend()
    {
        _harness.SegmentBytes = 1;
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0));
        _harness.Disk.FailNextSnapshotWrite = true;

        LogAppendResult rolled = await AppendAsync(log, TestBatches.Create(Pid, 0, 1));

        Assert.Equal(AppendStatus.Appended, rolled.Status);
        Assert.False(log.IsFaulted);
        Assert.Empty(_harness.Disk.StoredSnapshots());
        _harness.SegmentBytes = int.MaxValue;
        Assert.Equal(AppendStatus.Appended, (await AppendAsync(log, TestBatches.Create(Pid, 0, 2))).Status);
        Assert.Equal([3L], _harness.Disk.StoredSnapshots().Select(s => s.Offset));
    }
}
