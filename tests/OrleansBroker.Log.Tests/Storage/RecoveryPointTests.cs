using OrleansBroker.Log.Storage;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.Storage;

/// <summary>
/// The file store's recovery point: reopening scans only the bytes appended after the last clean close or producer-state snapshot,
/// and falls back to scanning the whole active segment when the recovery point does not match the files.
/// </summary>
public sealed class RecoveryPointTests : IAsyncLifetime
{
    private const string FirstSegment = "00000000000000000000.log";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "obroker-recovery-point-tests", Guid.NewGuid().ToString("N"));
    private readonly PartitionLogOptions _options = new() { IndexIntervalBytes = 100 };
    private readonly List<FileLogStore> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (FileLogStore store in _stores)
        {
            await store.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAsync_AfterCleanClose_ScansNothingAndKeepsTheIndex()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 20);
        await first.DisposeAsync();

        FileLogStore store = await OpenAsync();

        Assert.Equal(0, store.ScannedBytes);
        Assert.Equal(TotalRecords(batches), store.LogEndOffset);
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(13)), (await store.ReadAsync(OffsetOf(batches, 13), int.MaxValue)).ToArray());
        byte[] next = await AppendAsync(store);
        Assert.Equal(TotalRecords(batches), StoreTestBatches.Header(next).BaseOffset);
    }

    [Fact]
    public async Task OpenAsync_AfterCrashPastASnapshot_ScansOnlyTheTailAfterIt()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> before = await AppendManyAsync(first, 12);
        await first.WriteProducerSnapshotAsync(first.LogEndOffset, new byte[] { 1, 2, 3 });
        byte[] pointAtSnapshot = File.ReadAllBytes(PointPath);
        List<byte[]> after = await AppendManyAsync(first, 7);
        await first.DisposeAsync();

        // A crash after the tail was written: the files as they were, except that no close moved the recovery point.
        File.WriteAllBytes(PointPath, pointAtSnapshot);
        FileLogStore store = await OpenAsync();

        Assert.Equal(after.Sum(b => (long)b.Length), store.ScannedBytes);
        Assert.Equal(TotalRecords([.. before, .. after]), store.LogEndOffset);
        Assert.Equal(StoreTestBatches.Concat([.. before.Skip(10), .. after]), (await store.ReadAsync(OffsetOf(before, 10), int.MaxValue)).ToArray());
        Assert.Equal(StoreTestBatches.Concat(after.Skip(3)), (await store.ReadAsync(TotalRecords(before) + OffsetOf(after, 3), int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_TornTailAfterTheRecoveryPoint_TruncatesOnlyTheTail()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> before = await AppendManyAsync(first, 5);
        await first.WriteProducerSnapshotAsync(first.LogEndOffset, new byte[] { 1 });
        byte[] pointAtSnapshot = File.ReadAllBytes(PointPath);
        List<byte[]> after = await AppendManyAsync(first, 3);
        await first.DisposeAsync();
        File.WriteAllBytes(PointPath, pointAtSnapshot);
        ChopEnd(10);

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(after[^1].Length - 10, info.TruncatedBytes);
        Assert.Equal(TotalRecords([.. before, .. after.Take(2)]), info.LogEndOffset);
        Assert.Equal(after[0].Length + after[1].Length, store.ScannedBytes);
    }

    [Fact]
    public async Task OpenAsync_CorruptRecoveryPointFile_ScansTheWholeSegment()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 6);
        await first.DisposeAsync();
        byte[] point = File.ReadAllBytes(PointPath);
        point[12] ^= 0xFF;
        File.WriteAllBytes(PointPath, point);

        FileLogStore store = await OpenAsync();

        Assert.Equal(batches.Sum(b => (long)b.Length), store.ScannedBytes);
        Assert.Equal(TotalRecords(batches), store.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_SegmentShorterThanTheRecoveryPoint_ScansTheWholeSegment()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 4);
        await first.DisposeAsync();
        ChopEnd(batches[^1].Length);

        FileLogStore store = await OpenAsync();

        Assert.Equal(batches.Take(3).Sum(b => (long)b.Length), store.ScannedBytes);
        Assert.Equal(TotalRecords(batches.Take(3)), store.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_LastBatchBeforeTheRecoveryPointCorrupt_ScansAndTruncatesIt()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 4);
        await first.DisposeAsync();
        long lastStart = batches.Take(3).Sum(b => (long)b.Length);
        FlipByte(lastStart + RecordBatchHeader.Size + 2);

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(batches[3].Length, info.TruncatedBytes);
        Assert.Equal(TotalRecords(batches.Take(3)), info.LogEndOffset);
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_UnflushedBatches_FsyncsTheSegmentFirst()
    {
        FileLogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, 3);
        long fsyncs = store.FsyncCount;

        await store.WriteProducerSnapshotAsync(store.LogEndOffset, new byte[] { 7 });

        Assert.Equal(fsyncs + 1, store.FsyncCount);
        RecoveryPoint? point = RecoveryPoint.TryRead(_directory);
        Assert.NotNull(point);
        Assert.Equal(store.LogEndOffset, point.Value.NextOffset);
        Assert.Equal(new FileInfo(Path.Combine(_directory, FirstSegment)).Length, point.Value.Position);
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_AppendsWhileItRuns_RecoveryPointIsWhereItWasCalled()
    {
        FileLogStore store = await OpenAsync();
        List<byte[]> before = await AppendManyAsync(store, 5);
        long captured = store.LogEndOffset;
        Assert.True(store.CanSnapshotConcurrently);

        ValueTask snapshot = store.WriteProducerSnapshotAsync(captured, new byte[] { 1 });
        List<byte[]> after = await AppendManyAsync(store, 5);
        await snapshot;

        RecoveryPoint? point = RecoveryPoint.TryRead(_directory);
        Assert.NotNull(point);
        Assert.Equal(captured, point.Value.NextOffset);
        Assert.Equal(before.Sum(b => (long)b.Length), point.Value.Position);

        // A crash now: the reopened store scans exactly what was appended after the call.
        byte[] pointBytes = File.ReadAllBytes(PointPath);
        await store.DisposeAsync();
        File.WriteAllBytes(PointPath, pointBytes);
        FileLogStore reopened = await OpenAsync();
        Assert.Equal(after.Sum(b => (long)b.Length), reopened.ScannedBytes);
        Assert.Equal(TotalRecords([.. before, .. after]), reopened.LogEndOffset);
    }

    [Fact]
    public async Task WriteProducerSnapshotInBackgroundAsync_NoFsync_MovesTheRecoveryPointForThisBoot()
    {
        FileLogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, 4);
        long fsyncs = store.FsyncCount;

        await store.WriteProducerSnapshotInBackgroundAsync(store.LogEndOffset, new byte[] { 5 });

        Assert.Equal(fsyncs, store.FsyncCount);
        RecoveryPoint point = RecoveryPoint.TryRead(_directory)!.Value;
        Assert.False(point.Durable);
        Assert.True(point.IsTrustedNow);
        Assert.Equal(TotalRecords(batches), point.NextOffset);
        (long offset, byte[] bytes) = (await ReadSnapshotsAsync(store)).Single();
        Assert.Equal(store.LogEndOffset, offset);
        Assert.Equal(new byte[] { 5 }, bytes);
    }

    [Fact]
    public async Task OpenAsync_RecoveryPointWithoutFsyncFromAnotherBoot_ScansTheWholeSegment()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 6);
        await first.DisposeAsync();
        RecoveryPoint point = RecoveryPoint.TryRead(_directory)!.Value;
        (point with { Durable = false, BootId = Guid.NewGuid() }).Write(_directory);

        FileLogStore store = await OpenAsync();

        Assert.Equal(batches.Sum(b => (long)b.Length), store.ScannedBytes);
        Assert.Equal(TotalRecords(batches), store.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_FsyncedRecoveryPointFromAnotherBoot_IsTrusted()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, 6);
        await first.DisposeAsync();
        RecoveryPoint point = RecoveryPoint.TryRead(_directory)!.Value;
        Assert.True(point.Durable);
        (point with { BootId = Guid.NewGuid() }).Write(_directory);

        FileLogStore store = await OpenAsync();

        Assert.Equal(0, store.ScannedBytes);
        Assert.Equal(TotalRecords(batches), store.LogEndOffset);
    }

    private static async Task<List<(long Offset, byte[] Snapshot)>> ReadSnapshotsAsync(FileLogStore store)
    {
        var snapshots = new List<(long, byte[])>();
        await foreach ((long offset, byte[] snapshot) in store.ReadProducerSnapshotsAsync())
        {
            snapshots.Add((offset, snapshot));
        }

        return snapshots;
    }

    private string PointPath => RecoveryPoint.PathIn(_directory);

    private static long TotalRecords(IEnumerable<byte[]> batches) => batches.Sum(b => (long)StoreTestBatches.Header(b).RecordCount);

    private static long OffsetOf(List<byte[]> batches, int index) => TotalRecords(batches.Take(index));

    private FileLogStore Create()
    {
        var store = new FileLogStore(_directory, _options, TimeProvider.System);
        _stores.Add(store);
        return store;
    }

    private async Task<FileLogStore> OpenAsync()
    {
        FileLogStore store = Create();
        await store.OpenAsync();
        return store;
    }

    private static async Task<byte[]> AppendAsync(FileLogStore store)
    {
        long baseOffset = store.LogEndOffset;
        byte[] batch = StoreTestBatches.Create(baseOffset, records: 1 + (int)(baseOffset % 3), valueBytes: 40, baseSequence: (int)baseOffset);
        _ = await store.AppendAsync(batch, StoreTestBatches.Header(batch));
        return batch;
    }

    private static async Task<List<byte[]>> AppendManyAsync(FileLogStore store, int count)
    {
        var batches = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            batches.Add(await AppendAsync(store));
        }

        return batches;
    }

    private void ChopEnd(long bytes)
    {
        using var stream = new FileStream(Path.Combine(_directory, FirstSegment), FileMode.Open, FileAccess.Write);
        stream.SetLength(stream.Length - bytes);
    }

    private void FlipByte(long position)
    {
        using var stream = new FileStream(Path.Combine(_directory, FirstSegment), FileMode.Open, FileAccess.ReadWrite);
        stream.Position = position;
        int value = stream.ReadByte();
        stream.Position = position;
        stream.WriteByte((byte)(value ^ 0xFF));
    }
}
