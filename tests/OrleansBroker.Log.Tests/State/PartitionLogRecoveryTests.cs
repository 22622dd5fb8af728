using OrleansBroker.Log.Tests.TestDoubles;

namespace OrleansBroker.Log.Tests.State;

/// <summary>Producer-state durability: snapshots keep all 5 batches, recovery = newest valid snapshot + replay of the tail.</summary>
public sealed class PartitionLogRecoveryTests
{
    private const long Pid = 77;
    private readonly LogHarness _harness = new();

    /// <summary>Size of each batch <see cref="AppendSequenceAsync"/> writes for sequences 0–8.</summary>
    private static int SequenceBatchSize => TestBatches.Create(Pid, 0, 0, records: 2, timestamp: 10_000, tag: "b0").Length;

    private static async Task<LogAppendResult> AppendAsync(PartitionLog log, byte[] batch) => await log.AppendAsync(batch.ToArray());

    private static async Task<List<LogAppendResult>> AppendSequenceAsync(PartitionLog log, int count, int firstSequence = 0, string tag = "b")
    {
        var acks = new List<LogAppendResult>();
        for (int i = 0; i < count; i++)
        {
            int sequence = firstSequence + (2 * i);
            LogAppendResult ack = await AppendAsync(log, TestBatches.Create(Pid, 0, sequence, records: 2, timestamp: 10_000 + sequence, tag: $"{tag}{sequence}"));
            Assert.Equal(AppendStatus.Appended, ack.Status);
            acks.Add(ack);
        }

        return acks;
    }

    [Fact]
    public async Task OpenAsync_CheckpointedSnapshot_KeepsAllFiveBatchesWithoutReplay()
    {
        List<LogAppendResult> acks;
        await using (PartitionLog log = await _harness.OpenAsync())
        {
            acks = await AppendSequenceAsync(log, 7);
        }

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(new PartitionLogRecovery(new LogRecoveryInfo(0, 14, 1, 0), 14, 0, 0, 1), reopened.Recovery);
        for (int i = 2; i < 7; i++)
        {
            LogAppendResult retry = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 2 * i, records: 2));
            Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, acks[i].BaseOffset, acks[i].Timestamp), retry);
        }

        Assert.Equal(AppendStatus.OutOfOrderSequence, (await AppendAsync(reopened, TestBatches.Create(Pid, 0, 2, records: 2))).Status);
        Assert.Equal(14, reopened.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_SnapshotPlusTail_DuplicatesBeforeAndAfterSnapshotDetected()
    {
        PartitionLog log = await _harness.OpenAsync();
        List<LogAppendResult> before = await AppendSequenceAsync(log, 2);
        await log.CheckpointAsync();
        List<LogAppendResult> after = await AppendSequenceAsync(log, 2, firstSequence: 4);
        _harness.Disk.Crash();

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(4, reopened.Recovery.SnapshotOffset);
        Assert.Equal(2, reopened.Recovery.BatchesReplayed);
        LogAppendResult retryBefore = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 2, records: 2));
        LogAppendResult retryAfter = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 6, records: 2));
        LogAppendResult next = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 8, records: 2, tag: "next"));
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, before[1].BaseOffset, before[1].Timestamp), retryBefore);
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, after[1].BaseOffset, after[1].Timestamp), retryAfter);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 8, TestBatches.BaseTime + 1), next);
        Assert.Equal(10, (await LogHarness.ReadValuesAsync(reopened)).Count);
    }

    [Fact]
    public async Task OpenAsync_ReplayCost_EqualsTailAfterSnapshot()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendSequenceAsync(log, 100);
        await log.CheckpointAsync();
        await AppendSequenceAsync(log, 3, firstSequence: 200);
        _harness.Disk.Crash();
        long headersBefore = _harness.Disk.HeadersRead;

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(3, _harness.Disk.HeadersRead - headersBefore);
        Assert.Equal(3, _harness.Store!.HeadersRead);
        Assert.Equal(new PartitionLogRecovery(new LogRecoveryInfo(0, 206, 1, 0), 200, 0, 3, 1), reopened.Recovery);
        Assert.True(reopened.ProducerState.TryGetEntry(Pid, out ProducerStateEntry entry));
        Assert.Equal([198, 200, 202, 204], entry.Batches.Select(b => b.FirstSequence).Skip(1));
    }

    [Fact]
    public async Task OpenAsync_NoSnapshot_ReplaysWholeLogSkippingNonIdempotentBatches()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(-1, -1, -1, records: 2));
        await AppendSequenceAsync(log, 3);
        _harness.Disk.Crash();

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(new PartitionLogRecovery(new LogRecoveryInfo(0, 8, 1, 0), -1, 0, 4, 1), reopened.Recovery);
        Assert.Equal(AppendStatus.Duplicate, (await AppendAsync(reopened, TestBatches.Create(Pid, 0, 0, records: 2))).Status);
    }

    [Fact]
    public async Task OpenAsync_CorruptSnapshot_IgnoredAndStateRebuiltFromLog()
    {
        List<LogAppendResult> acks;
        await using (PartitionLog log = await _harness.OpenAsync())
        {
            acks = await AppendSequenceAsync(log, 3);
        }

        (long offset, byte[] _) = Assert.Single(_harness.Disk.StoredSnapshots());
        _harness.Disk.RewriteSnapshot(offset, bytes =>
        {
            bytes[bytes.Length - 3] ^= 0x01;
            return bytes;
        });

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(new PartitionLogRecovery(new LogRecoveryInfo(0, 6, 1, 0), -1, 1, 3, 1), reopened.Recovery);
        LogAppendResult retry = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 0, records: 2));
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, acks[0].BaseOffset, acks[0].Timestamp), retry);
        Assert.Equal(6, reopened.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_TruncatedSnapshot_IgnoredAndStateRebuiltFromLog()
    {
        await using (PartitionLog log = await _harness.OpenAsync())
        {
            await AppendSequenceAsync(log, 2);
        }

        _harness.Disk.RewriteSnapshot(4, bytes => bytes[..^5]);

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(-1, reopened.Recovery.SnapshotOffset);
        Assert.Equal(1, reopened.Recovery.SnapshotsSkipped);
        Assert.Equal(AppendStatus.Duplicate, (await AppendAsync(reopened, TestBatches.Create(Pid, 0, 2, records: 2))).Status);
    }

    [Fact]
    public async Task OpenAsync_NewestSnapshotCorrupt_OlderSnapshotPlusLongerTailUsed()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendSequenceAsync(log, 2);
        await log.CheckpointAsync();
        await AppendSequenceAsync(log, 2, firstSequence: 4);
        await log.CheckpointAsync();
        await AppendSequenceAsync(log, 1, firstSequence: 8);
        _harness.Disk.Crash();
        _harness.Disk.RewriteSnapshot(8, bytes =>
        {
            bytes[0] = 9;
            return bytes;
        });

        await using PartitionLog reopened = await _harness.OpenAsync();

        Assert.Equal(new PartitionLogRecovery(new LogRecoveryInfo(0, 10, 1, 0), 4, 1, 3, 1), reopened.Recovery);
        for (int sequence = 0; sequence <= 8; sequence += 2)
        {
            LogAppendResult retry = await AppendAsync(reopened, TestBatches.Create(Pid, 0, sequence, records: 2));
            Assert.Equal(AppendStatus.Duplicate, retry.Status);
            Assert.Equal(sequence, retry.BaseOffset);
        }
    }

    [Fact]
    public async Task OpenAsync_SnapshotPastTruncatedLogEnd_NeverUsedAfterLogGrowsPastIt()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendSequenceAsync(log, 2);
        await log.CheckpointAsync();
        _harness.Disk.Crash();
        _harness.Disk.TearTail(10);

        PartitionLog truncated = await _harness.OpenAsync();
        Assert.Equal(2, truncated.LogEndOffset);
        Assert.Equal(-1, truncated.Recovery.SnapshotOffset);
        await AppendAsync(truncated, TestBatches.Create(-1, -1, -1, records: 2, tag: "plain"));
        await AppendAsync(truncated, TestBatches.Create(Pid + 1, 0, 0, tag: "q"));
        _harness.Disk.Crash();

        await using PartitionLog reopened = await _harness.OpenAsync();
        LogAppendResult resend = await AppendAsync(reopened, TestBatches.Create(Pid, 0, 2, records: 2, timestamp: 10_002, tag: "b2"));

        Assert.Equal(-1, reopened.Recovery.SnapshotOffset);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 5, 10_003), resend);
        Assert.Equal(["b0-0", "b0-1", "plain-0", "plain-1", "q-0", "b2-0", "b2-1"], await LogHarness.ReadValuesAsync(reopened));
    }

    [Fact]
    public async Task OpenAsync_S3_CrashWithoutCheckpoint_ResendIsDuplicateWithOriginalOffset()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(-1, -1, -1, records: 3, tag: "x"));
        LogAppendResult original = await AppendAsync(log, TestBatches.Create(Pid, 2, 10, records: 2, timestamp: 123_456, tag: "s3"));
        int snapshotsBefore = _harness.Disk.SnapshotWrites;
        _harness.Disk.Crash();

        await using PartitionLog reactivated = await _harness.OpenAsync();
        LogAppendResult resend = await AppendAsync(reactivated, TestBatches.Create(Pid, 2, 10, records: 2, timestamp: 123_456, tag: "s3"));

        Assert.Equal(0, snapshotsBefore);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 3, 123_457), original);
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, 3, 123_457), resend);
        Assert.Equal(["x-0", "x-1", "x-2", "s3-0", "s3-1"], await LogHarness.ReadValuesAsync(reactivated));
    }

    [Fact]
    public async Task OpenAsync_ReplayedState_SnapshotRoundTripsExactly()
    {
        PartitionLog log = await _harness.OpenAsync();
        await AppendSequenceAsync(log, 7);
        await AppendAsync(log, TestBatches.Create(5, 1, int.MaxValue, records: 2));
        byte[] live = log.ProducerState.CreateSnapshot(log.LogEndOffset);
        _harness.Disk.Crash();

        await using PartitionLog reopened = await _harness.OpenAsync();
        byte[] replayed = reopened.ProducerState.CreateSnapshot(reopened.LogEndOffset);
        var loaded = new ProducerStateManager(TimeSpan.FromDays(1), _harness.Time);

        Assert.Equal(-1, reopened.Recovery.SnapshotOffset);
        Assert.Equal(live, replayed);
        Assert.True(loaded.TryLoadSnapshot(replayed, out long offset));
        Assert.Equal(16, offset);
        Assert.Equal(replayed, loaded.CreateSnapshot(offset));
    }

    [Fact]
    public async Task AppendAsync_SegmentRoll_WritesSnapshotAtLogEnd()
    {
        _harness.SegmentBytes = 2 * SequenceBatchSize;
        await using PartitionLog log = await _harness.OpenAsync();

        await AppendSequenceAsync(log, 2);
        int beforeRoll = _harness.Disk.SnapshotWrites;
        await AppendSequenceAsync(log, 1, firstSequence: 4);

        Assert.Equal(0, beforeRoll);
        (long offset, byte[] snapshot) = Assert.Single(_harness.Disk.StoredSnapshots());
        Assert.Equal(6, offset);
        Assert.Equal(log.ProducerState.CreateSnapshot(6), snapshot);
    }

    [Fact]
    public async Task AppendAsync_SnapshotIntervalBytesReached_WritesSnapshot()
    {
        _harness.Options = new PartitionLogOptions { SnapshotIntervalBytes = 3L * SequenceBatchSize };
        await using PartitionLog log = await _harness.OpenAsync();

        await AppendSequenceAsync(log, 2);
        int afterTwo = _harness.Disk.SnapshotWrites;
        await AppendSequenceAsync(log, 1, firstSequence: 4);

        Assert.Equal(0, afterTwo);
        Assert.Equal([6L], _harness.Disk.StoredSnapshots().Select(s => s.Offset));
    }

    [Fact]
    public async Task CheckpointAsync_FlushesThenSnapshotsAtLogEnd_KeepsTwoNewest()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        for (int i = 0; i < 3; i++)
        {
            await AppendSequenceAsync(log, 1, firstSequence: 2 * i);
            await log.CheckpointAsync();
        }

        Assert.Equal(3, _harness.Disk.Flushes);
        Assert.Equal([4L, 6], _harness.Disk.StoredSnapshots().Select(s => s.Offset));
    }
}
