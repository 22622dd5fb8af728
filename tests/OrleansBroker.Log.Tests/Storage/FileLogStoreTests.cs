using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Log.Storage;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.Storage;

/// <summary>What only the file store does: files and names, recovery of a damaged tail, the index, the flush policy, faults.</summary>
public sealed class FileLogStoreTests : IAsyncLifetime
{
    private const string FirstSegment = "00000000000000000000.log";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "obroker-store-tests", Guid.NewGuid().ToString("N"));
    private readonly List<FileLogStore> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (FileLogStore store in _stores)
        {
            try
            {
                await store.DisposeAsync();
            }
            catch (IOException)
            {
                // Left failing by a fault test.
            }
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAsync_TornTail_TruncatesToTheLastWholeBatchAndAppendsContinueThere()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 3, 4]);
        ChopEnd(FirstSegment, 10);

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(5, info.LogEndOffset);
        Assert.Equal(batches[2].Length - 10, info.TruncatedBytes);
        Assert.Equal(batches[0].Length + batches[1].Length, new FileInfo(SegmentPath(FirstSegment)).Length);
        byte[] next = await AppendAsync(store, 1);
        Assert.Equal(5, StoreTestBatches.Header(next).BaseOffset);
        Assert.Equal(6, store.LogEndOffset);
        Assert.Equal(StoreTestBatches.Concat([batches[0], batches[1], next]), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_TornHeaderOnly_TruncatesIt()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 2]);
        ChopEnd(FirstSegment, batches[1].Length - 30);

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(2, info.LogEndOffset);
        Assert.Equal(30, info.TruncatedBytes);
    }

    [Fact]
    public async Task OpenAsync_CorruptCrcInLastBatch_TruncatesThatBatch()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 3, 4]);
        long lastBatchStart = batches[0].Length + batches[1].Length;
        FlipByte(FirstSegment, lastBatchStart + RecordBatchHeader.Size + 5);

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(5, info.LogEndOffset);
        Assert.Equal(batches[2].Length, info.TruncatedBytes);
        Assert.Equal(StoreTestBatches.Concat(batches.Take(2)), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_CorruptCrcInMiddleBatchOfLastSegment_TruncatesFromThere()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 3, 4]);
        FlipByte(FirstSegment, batches[0].Length + 30);

        // Without a recovery point (a crash before any checkpoint) the whole segment is the unverified tail. After a clean close or a
        // snapshot, bytes below the recovery point are trusted and not re-scanned, as in Kafka (see RecoveryPointTests).
        File.Delete(Path.Combine(_directory, RecoveryPoint.FileName));

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(2, info.LogEndOffset);
        Assert.Equal(batches[1].Length + batches[2].Length, info.TruncatedBytes);
    }

    [Fact]
    public async Task OpenAsync_GarbageAfterLastBatch_TruncatesTheGarbage()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 3]);
        byte[] garbage = new byte[100];
        new Random(7).NextBytes(garbage);
        using (var stream = new FileStream(SegmentPath(FirstSegment), FileMode.Append))
        {
            stream.Write(garbage);
        }

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(5, info.LogEndOffset);
        Assert.Equal(100, info.TruncatedBytes);
        Assert.Equal(StoreTestBatches.Concat(batches), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_ZeroFilledTail_TruncatesIt()
    {
        _ = await WriteAndCloseAsync([2]);
        using (var stream = new FileStream(SegmentPath(FirstSegment), FileMode.Append))
        {
            stream.Write(new byte[4096]);
        }

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(2, info.LogEndOffset);
        Assert.Equal(4096, info.TruncatedBytes);
    }

    [Fact]
    public async Task OpenAsync_OffsetDiscontinuityInLastSegment_TruncatesFromTheGap()
    {
        List<byte[]> batches = await WriteAndCloseAsync([2, 3]);
        byte[] skipped = StoreTestBatches.Create(9, 1);
        using (var stream = new FileStream(SegmentPath(FirstSegment), FileMode.Append))
        {
            stream.Write(skipped);
        }

        FileLogStore store = Create();
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(5, info.LogEndOffset);
        Assert.Equal(skipped.Length, info.TruncatedBytes);
    }

    [Fact]
    public async Task OpenAsync_WholeLastSegmentTorn_KeepsTheEmptySegmentAtItsBaseOffset()
    {
        var options = new PartitionLogOptions { SegmentBytes = 300 };
        List<byte[]> batches = await WriteAndCloseAsync([2, 2, 2], options);
        string last = Directory.GetFiles(_directory, "*.log").Select(Path.GetFileName).Order().Last()!;
        Assert.Equal("00000000000000000004.log", last);
        ChopEnd(last, 5);

        FileLogStore store = Create(options);
        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(4, info.LogEndOffset);
        Assert.Equal(2, info.SegmentCount);
        Assert.Equal(batches[2].Length - 5, info.TruncatedBytes);
        byte[] next = await AppendAsync(store, 2);
        Assert.Equal(4, StoreTestBatches.Header(next).BaseOffset);
        Assert.Equal(StoreTestBatches.Concat([batches[0], batches[1], next]), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_CorruptSealedSegment_FailsInsteadOfDroppingAcknowledgedData()
    {
        var options = new PartitionLogOptions { SegmentBytes = 300 };
        _ = await WriteAndCloseAsync([2, 2, 2, 2], options);
        File.Delete(SegmentPath("00000000000000000000.index"));
        ChopEnd(FirstSegment, 10);

        FileLogStore store = Create(options);

        LogStorageException error = await Assert.ThrowsAsync<LogStorageException>(async () => await store.OpenAsync());
        Assert.Contains(FirstSegment, error.Message, StringComparison.Ordinal);
        Assert.IsNotType<LogFencedException>(error);
    }

    [Fact]
    public async Task AppendAsync_SmallSegmentBytes_CreatesSegmentFilesNamedByBaseOffset()
    {
        var options = new PartitionLogOptions { SegmentBytes = 300 };
        FileLogStore store = await OpenAsync(options);
        var rolls = new List<bool>();
        for (int i = 0; i < 7; i++)
        {
            byte[] batch = StoreTestBatches.Create(store.LogEndOffset, 3);
            rolls.Add(await store.AppendAsync(batch, StoreTestBatches.Header(batch)));
        }

        Assert.Equal(new[] { false, false, true, false, true, false, true }, rolls);
        string[] logs = Directory.GetFiles(_directory, "*.log").Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(
            new[] { "00000000000000000000.log", "00000000000000000006.log", "00000000000000000012.log", "00000000000000000018.log" },
            logs);
        Assert.True(File.Exists(SegmentPath("00000000000000000006.index")));
        Assert.Equal(4, store.SegmentCount);
    }

    [Fact]
    public async Task ReadAsync_SmallIndexIntervalLargeSegment_EveryOffsetReadsTheRightBatch()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 100 };
        FileLogStore store = await OpenAsync(options);
        List<byte[]> batches = await AppendManyAsync(store, Enumerable.Repeat(2, 60).ToArray());

        for (long offset = 0; offset < 120; offset += 7)
        {
            ReadOnlyMemory<byte> read = await store.ReadAsync(offset, 1);

            Assert.Equal(batches[(int)(offset / 2)], read.ToArray());
        }

        await store.DisposeAsync();
        long indexLength = new FileInfo(SegmentPath("00000000000000000000.index")).Length;
        Assert.True(indexLength >= 8 * 29, $"index has {indexLength / 8} entries");
    }

    [Fact]
    public async Task ReadAsync_IndexFromDiskOfSealedSegment_ReadsTheMiddleRight()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 100, SegmentBytes = 4000 };
        List<byte[]> batches = await WriteAndCloseAsync(Enumerable.Repeat(2, 60).ToArray(), options);

        FileLogStore store = Create(options);
        _ = await store.OpenAsync();

        Assert.True(store.SegmentCount > 1);
        for (long offset = 0; offset < 120; offset++)
        {
            Assert.Equal(batches[(int)(offset / 2)], (await store.ReadAsync(offset, 1)).ToArray());
        }
    }

    [Fact]
    public async Task OpenAsync_IndexFileDeleted_RebuildsTheSameIndex()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 100, SegmentBytes = 2000 };
        List<byte[]> batches = await WriteAndCloseAsync(Enumerable.Repeat(2, 40).ToArray(), options);
        string index = SegmentPath("00000000000000000000.index");
        byte[] original = File.ReadAllBytes(index);
        Assert.NotEmpty(original);
        File.Delete(index);

        FileLogStore store = Create(options);
        _ = await store.OpenAsync();

        Assert.Equal(original, File.ReadAllBytes(index));
        Assert.Equal(batches[5], (await store.ReadAsync(11, 1)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_IndexFilePointingIntoABatch_RebuildsIt()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 100, SegmentBytes = 2000 };
        List<byte[]> batches = await WriteAndCloseAsync(Enumerable.Repeat(2, 40).ToArray(), options);
        string index = SegmentPath("00000000000000000000.index");
        byte[] original = File.ReadAllBytes(index);
        byte[] corrupt = (byte[])original.Clone();
        int lastPosition = corrupt.Length - 4;
        BinaryPrimitives.WriteInt32BigEndian(corrupt.AsSpan(lastPosition), BinaryPrimitives.ReadInt32BigEndian(corrupt.AsSpan(lastPosition)) + 3);
        File.WriteAllBytes(index, corrupt);

        FileLogStore store = Create(options);
        _ = await store.OpenAsync();

        Assert.Equal(original, File.ReadAllBytes(index));
        for (long offset = 0; offset < 20; offset++)
        {
            Assert.Equal(batches[(int)(offset / 2)], (await store.ReadAsync(offset, 1)).ToArray());
        }
    }

    [Fact]
    public async Task OpenAsync_ShortIndexFile_RebuildsIt()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 100, SegmentBytes = 2000, MaxMessageBytes = 200 };
        _ = await WriteAndCloseAsync(Enumerable.Repeat(2, 40).ToArray(), options);
        string index = SegmentPath("00000000000000000000.index");
        byte[] original = File.ReadAllBytes(index);
        File.WriteAllBytes(index, original.AsSpan(0, 8).ToArray());

        FileLogStore store = Create(options);
        _ = await store.OpenAsync();

        Assert.Equal(original, File.ReadAllBytes(index));
    }

    [Fact]
    public async Task AppendAsync_FlushMessagesOne_FsyncsEveryBatch()
    {
        FileLogStore store = await OpenAsync(new PartitionLogOptions { FlushMessages = 1 });

        _ = await AppendManyAsync(store, [1, 1, 1]);

        Assert.Equal(3, store.FsyncCount);
    }

    [Fact]
    public async Task AppendAsync_FlushMessagesThree_FsyncsEveryThirdBatch()
    {
        FileLogStore store = await OpenAsync(new PartitionLogOptions { FlushMessages = 3 });
        var counts = new List<long>();

        for (int i = 0; i < 7; i++)
        {
            _ = await AppendAsync(store, 1);
            counts.Add(store.FsyncCount);
        }

        Assert.Equal(new long[] { 0, 0, 1, 1, 1, 2, 2 }, counts);
    }

    [Fact]
    public async Task AppendAsync_DefaultPolicy_NeverFsyncsUntilFlushAsync()
    {
        FileLogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [1, 1, 1]);
        long beforeFlush = store.FsyncCount;

        await store.FlushAsync();
        await store.FlushAsync();

        Assert.Equal(0, beforeFlush);
        Assert.Equal(1, store.FsyncCount);
    }

    [Fact]
    public async Task AppendAsync_FlushInterval_FsyncsOnlyOnceTheOldestUnflushedBatchIsThatOld()
    {
        var time = new FakeTimeProvider();
        FileLogStore store = await OpenAsync(new PartitionLogOptions { FlushInterval = TimeSpan.FromSeconds(1) }, time);

        _ = await AppendAsync(store, 1);
        time.Advance(TimeSpan.FromMilliseconds(600));
        _ = await AppendAsync(store, 1);
        long beforeInterval = store.FsyncCount;
        time.Advance(TimeSpan.FromMilliseconds(400));
        _ = await AppendAsync(store, 1);
        long atInterval = store.FsyncCount;
        time.Advance(TimeSpan.FromMilliseconds(900));
        _ = await AppendAsync(store, 1);
        long afterNewBatchYoung = store.FsyncCount;

        Assert.Equal(0, beforeInterval);
        Assert.Equal(1, atInterval);
        Assert.Equal(1, afterNewBatchYoung);
    }

    [Fact]
    public async Task DisposeAsync_UnflushedBatches_FsyncsThem()
    {
        FileLogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [1, 1]);

        await store.DisposeAsync();

        Assert.Equal(1, store.FsyncCount);
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_SnapshotPastLogEndAfterTruncation_IsIgnoredAndDeleted()
    {
        FileLogStore first = await OpenAsync();
        _ = await AppendManyAsync(first, [2, 2, 2]);
        await first.WriteProducerSnapshotAsync(4, new byte[] { 4 });
        await first.WriteProducerSnapshotAsync(6, new byte[] { 6 });
        await first.DisposeAsync();
        ChopEnd(FirstSegment, 10);

        FileLogStore second = await OpenAsync();
        List<(long Offset, byte[] Snapshot)> snapshots = await ReadSnapshotsAsync(second);

        Assert.Equal(4, second.LogEndOffset);
        Assert.Equal(new long[] { 4 }, snapshots.Select(s => s.Offset));
        Assert.False(File.Exists(SegmentPath("00000000000000000006.snapshot")));
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_StrayTmpFile_IsIgnoredAndDeletedOnOpen()
    {
        FileLogStore first = await OpenAsync();
        _ = await AppendManyAsync(first, [2, 2]);
        await first.WriteProducerSnapshotAsync(2, new byte[] { 2 });
        await first.DisposeAsync();
        string stray = SegmentPath("00000000000000000004.snapshot.tmp");
        File.WriteAllBytes(stray, [9, 9, 9]);

        FileLogStore second = await OpenAsync();
        List<(long Offset, byte[] Snapshot)> snapshots = await ReadSnapshotsAsync(second);

        Assert.Equal(new long[] { 2 }, snapshots.Select(s => s.Offset));
        Assert.False(File.Exists(stray));
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_TmpFileCreatedWhileOpen_IsIgnored()
    {
        FileLogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [2]);
        File.WriteAllBytes(SegmentPath("00000000000000000002.snapshot.tmp"), [9]);

        Assert.Empty(await ReadSnapshotsAsync(store));
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_SameOffsetTwice_KeepsTheLatestBytes()
    {
        FileLogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [2]);

        await store.WriteProducerSnapshotAsync(2, new byte[] { 1 });
        await store.WriteProducerSnapshotAsync(2, new byte[] { 2, 2 });

        List<(long Offset, byte[] Snapshot)> snapshots = await ReadSnapshotsAsync(store);
        Assert.Single(snapshots);
        Assert.Equal(new byte[] { 2, 2 }, snapshots[0].Snapshot);
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public async Task OpenAsync_FencedStore_TouchesNothing()
    {
        FileLogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [2, 2]);
        using (var stream = new FileStream(SegmentPath(FirstSegment), FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            stream.Write(new byte[17]);
        }

        FileLogStore second = Create();
        LogFencedException fenced = await Assert.ThrowsAsync<LogFencedException>(async () => await second.OpenAsync());

        Assert.Contains(_directory, fenced.Message, StringComparison.Ordinal);
        Assert.Equal(batches[0].Length + batches[1].Length + 17, new FileInfo(SegmentPath(FirstSegment)).Length);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await second.ReadAsync(0, 100));
    }

    [Fact]
    public async Task OpenAsync_FencedStoreRetriedAfterRelease_Opens()
    {
        FileLogStore first = await OpenAsync();
        _ = await AppendManyAsync(first, [3]);
        FileLogStore second = Create();
        _ = await Assert.ThrowsAsync<LogFencedException>(async () => await second.OpenAsync());

        await first.DisposeAsync();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(3, info.LogEndOffset);
    }

    [Fact]
    public void Constructor_RelativeDirectory_IsMadeAbsolute()
    {
        var store = new FileLogStore(Path.Combine("relative", "topic-0"), new PartitionLogOptions(), TimeProvider.System);

        Assert.True(Path.IsPathFullyQualified(store.DirectoryPath));
        Assert.Equal(Path.GetFullPath(Path.Combine("relative", "topic-0")), store.DirectoryPath);
    }

    [Fact]
    public async Task AppendAsync_WriteFailsHalfWay_ThrowsStorageErrorRefusesAppendsAndReopenRecovers()
    {
        var io = new FaultyLogFileIo();
        FileLogStore store = await OpenAsync(io: io);
        List<byte[]> batches = await AppendManyAsync(store, [2, 2]);
        byte[] failing = StoreTestBatches.Create(4, 3);
        io.Failure = new IOException("Input/output error", 5);
        io.BytesBeforeFailure = 40;

        LogStorageException error = await Assert.ThrowsAsync<LogStorageException>(async () => await store.AppendAsync(failing, StoreTestBatches.Header(failing)));

        Assert.Contains(SegmentPath(FirstSegment), error.Message, StringComparison.Ordinal);
        Assert.Contains("disk full: no", error.Message, StringComparison.Ordinal);
        Assert.IsType<IOException>(error.InnerException);
        Assert.Equal(4, store.LogEndOffset);
        Assert.Equal(StoreTestBatches.Concat(batches), (await store.ReadAsync(0, int.MaxValue)).ToArray());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.AppendAsync(failing, StoreTestBatches.Header(failing)));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.FlushAsync());
        await store.DisposeAsync();

        FileLogStore reopened = Create();
        LogRecoveryInfo info = await reopened.OpenAsync();

        Assert.Equal(4, info.LogEndOffset);
        Assert.Equal(40, info.TruncatedBytes);
        byte[] next = await AppendAsync(reopened, 3);
        Assert.Equal(StoreTestBatches.Concat([.. batches, next]), (await reopened.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task AppendAsync_DiskFull_MessageSaysTheDiskIsFull()
    {
        var io = new FaultyLogFileIo { Failure = new IOException("No space left on device", 28) };
        FileLogStore store = await OpenAsync(io: io);
        byte[] batch = StoreTestBatches.Create(0, 1);

        LogStorageException error = await Assert.ThrowsAsync<LogStorageException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));

        Assert.Contains("disk full: yes", error.Message, StringComparison.Ordinal);
        Assert.Contains(SegmentPath(FirstSegment), error.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_FsyncFails_ThrowsStorageErrorAndLogEndDoesNotMove()
    {
        var io = new FaultyLogFileIo();
        FileLogStore store = await OpenAsync(new PartitionLogOptions { FlushMessages = 1 }, io: io);
        _ = await AppendAsync(store, 1);
        io.FsyncFailure = new IOException("Input/output error", 5);
        byte[] batch = StoreTestBatches.Create(1, 1);

        _ = await Assert.ThrowsAsync<LogStorageException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));

        Assert.Equal(1, store.LogEndOffset);
        Assert.Equal(1, store.FsyncCount);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));
    }

    [Fact]
    public async Task ReadAsync_DuringAnAppend_NeverSeesThePartialBatch()
    {
        var io = new FaultyLogFileIo();
        FileLogStore store = await OpenAsync(io: io);
        List<byte[]> batches = await AppendManyAsync(store, [2, 2]);
        byte[] next = StoreTestBatches.Create(4, 2);
        Task paused = io.PauseNextWrite();

        Task<bool> append = store.AppendAsync(next, StoreTestBatches.Header(next)).AsTask();
        Task first = await Task.WhenAny(paused, append).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(first == paused, $"The append ended before its write paused half way: {append.Exception}");
        byte[] during = (await store.ReadAsync(0, int.MaxValue)).ToArray();
        var headersDuring = new List<RecordBatchHeader>();
        await foreach (RecordBatchHeader header in store.ReadHeadersAsync(0))
        {
            headersDuring.Add(header);
        }

        io.ResumeWrite();
        _ = await append.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(StoreTestBatches.Concat(batches), during);
        Assert.Equal(2, headersDuring.Count);
        Assert.Equal(StoreTestBatches.Concat([.. batches, next]), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task AppendAsync_CancelledBeforeWriting_WritesNothingAndStoreStaysUsable()
    {
        FileLogStore store = await OpenAsync();
        byte[] batch = StoreTestBatches.Create(0, 1);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch), new CancellationToken(canceled: true)));

        Assert.Equal(0, store.LogEndOffset);
        _ = await store.AppendAsync(batch, StoreTestBatches.Header(batch));
        Assert.Equal(1, store.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_HeaderLastOffsetDeltaDisagreesWithBytes_IsRefused()
    {
        FileLogStore store = await OpenAsync();
        byte[] batch = StoreTestBatches.Create(0, 3);
        RecordBatchHeader lying = StoreTestBatches.Header(batch) with { LastOffsetDelta = 0 };

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(batch, lying));

        Assert.Equal(0, store.LogEndOffset);
        Assert.True((await store.ReadAsync(0, int.MaxValue)).IsEmpty);
    }

    [Fact]
    public void TryFsync_ExistingDirectory_SucceedsOnUnix()
    {
        Directory.CreateDirectory(_directory);

        Assert.Equal(!OperatingSystem.IsWindows(), DirectorySync.TryFsync(_directory));
    }

    [Fact]
    public async Task OpenAsync_LockFileNamesTheHolder()
    {
        _ = await OpenAsync();

        Assert.Equal(new FileInfo(SegmentPath(".lock")).Length, $"{Environment.ProcessId}\n".Length);
    }

    private FileLogStore Create(PartitionLogOptions? options = null, TimeProvider? time = null, ILogFileIo? io = null)
    {
        var store = new FileLogStore(_directory, options ?? new PartitionLogOptions(), time ?? TimeProvider.System)
        {
            FileIo = io ?? DefaultLogFileIo.Instance,
        };
        _stores.Add(store);
        return store;
    }

    private async Task<FileLogStore> OpenAsync(PartitionLogOptions? options = null, TimeProvider? time = null, ILogFileIo? io = null)
    {
        FileLogStore store = Create(options, time, io);
        _ = await store.OpenAsync();
        return store;
    }

    private async Task<List<byte[]>> WriteAndCloseAsync(int[] recordCounts, PartitionLogOptions? options = null)
    {
        FileLogStore store = await OpenAsync(options);
        List<byte[]> batches = await AppendManyAsync(store, recordCounts);
        await store.DisposeAsync();
        return batches;
    }

    private static async Task<byte[]> AppendAsync(FileLogStore store, int records)
    {
        long baseOffset = store.LogEndOffset;
        byte[] batch = StoreTestBatches.Create(baseOffset, records, baseSequence: (int)baseOffset);
        _ = await store.AppendAsync(batch, StoreTestBatches.Header(batch));
        return batch;
    }

    private static async Task<List<byte[]>> AppendManyAsync(FileLogStore store, int[] recordCounts)
    {
        var batches = new List<byte[]>();
        foreach (int records in recordCounts)
        {
            batches.Add(await AppendAsync(store, records));
        }

        return batches;
    }

    private static async Task<List<(long Offset, byte[] Snapshot)>> ReadSnapshotsAsync(FileLogStore store)
    {
        var snapshots = new List<(long Offset, byte[] Snapshot)>();
        await foreach ((long Offset, byte[] Snapshot) snapshot in store.ReadProducerSnapshotsAsync())
        {
            snapshots.Add(snapshot);
        }

        return snapshots;
    }

    private string SegmentPath(string fileName) => Path.Combine(_directory, fileName);

    private void ChopEnd(string fileName, long bytes)
    {
        using var stream = new FileStream(SegmentPath(fileName), FileMode.Open, FileAccess.Write);
        stream.SetLength(stream.Length - bytes);
    }

    private void FlipByte(string fileName, long position)
    {
        using var stream = new FileStream(SegmentPath(fileName), FileMode.Open, FileAccess.ReadWrite);
        stream.Position = position;
        int value = stream.ReadByte();
        stream.Position = position;
        stream.WriteByte((byte)(value ^ 0xFF));
    }
}
