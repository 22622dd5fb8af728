using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.Storage;

/// <summary>
/// The behaviour every <see cref="ILogStore"/> must have. A store implementation runs it by deriving and implementing
/// <see cref="CreateStore"/>; each test gets its own empty location, deleted afterwards.
/// </summary>
public abstract class LogStoreContractTests : IAsyncLifetime
{
    private readonly List<ILogStore> _stores = [];

    protected LogStoreContractTests()
    {
        Location = Path.Combine(Path.GetTempPath(), "obroker-store-tests", Guid.NewGuid().ToString("N"));
    }

    /// <summary>The partition location (a directory for the file store) this test uses.</summary>
    protected string Location { get; }

    /// <summary>Creates a store over <paramref name="directory"/>, not yet opened.</summary>
    protected abstract ILogStore CreateStore(string directory, PartitionLogOptions options);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (ILogStore store in _stores)
        {
            try
            {
                await store.DisposeAsync();
            }
            catch (IOException)
            {
                // A store a test left faulted or failing; the directory goes anyway.
            }
        }

        if (Directory.Exists(Location))
        {
            Directory.Delete(Location, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAsync_EmptyLocation_StartsAtOffsetZero()
    {
        ILogStore store = Create();

        LogRecoveryInfo info = await store.OpenAsync();

        Assert.Equal(0, info.LogStartOffset);
        Assert.Equal(0, info.LogEndOffset);
        Assert.Equal(0, info.TruncatedBytes);
        Assert.Equal(0, store.LogStartOffset);
        Assert.Equal(0, store.LogEndOffset);
        Assert.True((await store.ReadAsync(0, 1000)).IsEmpty);
    }

    [Fact]
    public async Task AppendAsync_SeveralBatches_LogEndOffsetMovesPastEachBatch()
    {
        ILogStore store = await OpenAsync();
        var endOffsets = new List<long>();

        foreach (int records in new[] { 1, 3, 2, 5 })
        {
            _ = await AppendAsync(store, records);
            endOffsets.Add(store.LogEndOffset);
        }

        Assert.Equal(new long[] { 1, 4, 6, 11 }, endOffsets);
        Assert.Equal(0, store.LogStartOffset);
    }

    [Fact]
    public async Task ReadAsync_EveryOffsetInsideABatch_ReturnsExactBytesFromTheContainingBatch()
    {
        ILogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [2, 3, 1, 4]);
        long[] baseOffsets = [0, 2, 5, 6];

        for (long offset = 0; offset < 10; offset++)
        {
            int containing = Array.FindLastIndex(baseOffsets, b => b <= offset);

            ReadOnlyMemory<byte> read = await store.ReadAsync(offset, int.MaxValue);

            Assert.Equal(StoreTestBatches.Concat(batches.Skip(containing)), read.ToArray());
        }
    }

    [Fact]
    public async Task ReadAsync_AcrossSegmentRoll_ReturnsWholeBatchesOfBothSegmentsAndReportsTheRoll()
    {
        int batchSize = StoreTestBatches.Create(0, 2, 40).Length;
        ILogStore store = await OpenAsync(new PartitionLogOptions { SegmentBytes = (batchSize * 2) + (batchSize / 2) });
        var batches = new List<byte[]>();
        var rolled = new List<bool>();

        for (int i = 0; i < 5; i++)
        {
            byte[] batch = StoreTestBatches.Create(store.LogEndOffset, 2, 40);
            rolled.Add(await store.AppendAsync(batch, StoreTestBatches.Header(batch)));
            batches.Add(batch);
        }

        Assert.Equal(new[] { false, false, true, false, true }, rolled);
        Assert.Equal(StoreTestBatches.Concat(batches), (await store.ReadAsync(0, int.MaxValue)).ToArray());
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(1)), (await store.ReadAsync(3, int.MaxValue)).ToArray());
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(2)), (await store.ReadAsync(5, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task ReadAsync_MaxBytesSmallerThanFirstBatch_ReturnsExactlyOneWholeBatch()
    {
        ILogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [3, 3, 3]);

        ReadOnlyMemory<byte> read = await store.ReadAsync(4, 10);

        Assert.Equal(batches[1], read.ToArray());
    }

    [Fact]
    public async Task ReadAsync_MaxBytesBetweenBatchBoundaries_ReturnsOnlyWholeBatchesThatFit()
    {
        ILogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [2, 2, 2, 2]);
        int twoAndAHalf = batches[0].Length + batches[1].Length + (batches[2].Length / 2);

        ReadOnlyMemory<byte> read = await store.ReadAsync(0, twoAndAHalf);
        ReadOnlyMemory<byte> exact = await store.ReadAsync(2, batches[1].Length + batches[2].Length);

        Assert.Equal(StoreTestBatches.Concat(batches.Take(2)), read.ToArray());
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(1).Take(2)), exact.ToArray());
    }

    [Fact]
    public async Task ReadAsync_AtLogEndOffset_ReturnsEmpty()
    {
        ILogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [2, 2]);

        ReadOnlyMemory<byte> read = await store.ReadAsync(4, 1000);

        Assert.True(read.IsEmpty);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    [InlineData(long.MaxValue)]
    public async Task ReadAsync_OffsetOutsideLog_ThrowsArgumentOutOfRange(long offset)
    {
        ILogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [2, 2]);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.ReadAsync(offset, 1000));
    }

    [Fact]
    public async Task OpenAsync_Reopen_KeepsEveryBatch()
    {
        ILogStore first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [1, 4, 2]);
        await first.DisposeAsync();

        ILogStore second = Create();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(0, info.LogStartOffset);
        Assert.Equal(7, info.LogEndOffset);
        Assert.Equal(0, info.TruncatedBytes);
        Assert.Equal(7, second.LogEndOffset);
        Assert.Equal(StoreTestBatches.Concat(batches), (await second.ReadAsync(0, int.MaxValue)).ToArray());
        byte[] next = await AppendAsync(second, 1);
        Assert.Equal(7, StoreTestBatches.Header(next).BaseOffset);
        Assert.Equal(8, second.LogEndOffset);
    }

    [Fact]
    public async Task OpenAsync_ReopenAfterRolls_KeepsEveryBatchInEverySegment()
    {
        var options = new PartitionLogOptions { SegmentBytes = 300 };
        ILogStore first = await OpenAsync(options);
        List<byte[]> batches = await AppendManyAsync(first, [2, 2, 2, 2, 2, 2, 2, 2]);
        await first.DisposeAsync();

        ILogStore second = Create(options);
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(16, info.LogEndOffset);
        Assert.True(info.SegmentCount > 1);
        Assert.Equal(StoreTestBatches.Concat(batches), (await second.ReadAsync(0, int.MaxValue)).ToArray());
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(5)), (await second.ReadAsync(11, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task ReadHeadersAsync_FromOffsetInsideABatch_YieldsThatBatchAndEveryLaterOne()
    {
        ILogStore store = await OpenAsync(new PartitionLogOptions { SegmentBytes = 300 });
        List<byte[]> batches = await AppendManyAsync(store, [2, 3, 1, 4, 2, 2]);

        var headers = new List<RecordBatchHeader>();
        await foreach (RecordBatchHeader header in store.ReadHeadersAsync(3))
        {
            headers.Add(header);
        }

        Assert.Equal(batches.Skip(1).Select(StoreTestBatches.Header), headers);
        Assert.Equal(new long[] { 2, 5, 6, 10, 12 }, headers.Select(h => h.BaseOffset));
    }

    [Fact]
    public async Task ReadHeadersAsync_FromLogEndOffset_YieldsNothing()
    {
        ILogStore store = await OpenAsync();
        _ = await AppendManyAsync(store, [2, 2]);

        int count = 0;
        await foreach (RecordBatchHeader header in store.ReadHeadersAsync(4))
        {
            count++;
        }

        Assert.Equal(0, count);
    }

    [Fact]
    public async Task ReadHeadersAsync_FromZero_YieldsEveryBatchWithItsFields()
    {
        ILogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [1, 2]);

        var headers = new List<RecordBatchHeader>();
        await foreach (RecordBatchHeader header in store.ReadHeadersAsync(0))
        {
            headers.Add(header);
        }

        Assert.Equal(2, headers.Count);
        Assert.Equal(StoreTestBatches.ProducerId, headers[1].ProducerId);
        Assert.Equal(1, headers[1].BaseSequence);
        Assert.Equal(1, headers[1].LastOffsetDelta);
        Assert.Equal(batches[1].Length, headers[1].TotalSize);
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_ThreeSnapshots_KeepsTheTwoNewestNewestFirst()
    {
        ILogStore store = await OpenAsync();
        for (int i = 1; i <= 3; i++)
        {
            _ = await AppendAsync(store, 1);
            await store.WriteProducerSnapshotAsync(i, new byte[] { (byte)i, 0xAB });
        }

        List<(long Offset, byte[] Snapshot)> snapshots = await ReadSnapshotsAsync(store);

        Assert.Equal(new long[] { 3, 2 }, snapshots.Select(s => s.Offset));
        Assert.Equal(new byte[] { 3, 0xAB }, snapshots[0].Snapshot);
        Assert.Equal(new byte[] { 2, 0xAB }, snapshots[1].Snapshot);
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_AfterReopen_ReturnsTheStoredSnapshots()
    {
        ILogStore first = await OpenAsync();
        _ = await AppendManyAsync(first, [2, 2]);
        await first.WriteProducerSnapshotAsync(2, new byte[] { 1, 2, 3 });
        await first.WriteProducerSnapshotAsync(4, new byte[] { 4, 5, 6 });
        await first.DisposeAsync();

        ILogStore second = Create();
        _ = await second.OpenAsync();
        List<(long Offset, byte[] Snapshot)> snapshots = await ReadSnapshotsAsync(second);

        Assert.Equal(new long[] { 4, 2 }, snapshots.Select(s => s.Offset));
        Assert.Equal(new byte[] { 4, 5, 6 }, snapshots[0].Snapshot);
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_NoSnapshot_ReturnsNothing()
    {
        ILogStore store = await OpenAsync();

        Assert.Empty(await ReadSnapshotsAsync(store));
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_OffsetPastLogEnd_Throws()
    {
        ILogStore store = await OpenAsync();
        _ = await AppendAsync(store, 2);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.WriteProducerSnapshotAsync(3, new byte[] { 1 }));
        Assert.Empty(await ReadSnapshotsAsync(store));
    }

    [Fact]
    public async Task OpenAsync_SecondWriterWhileFirstIsOpen_IsFencedAndAllowedAfterFirstIsDisposed()
    {
        ILogStore first = await OpenAsync();
        _ = await AppendManyAsync(first, [2]);

        ILogStore second = Create();
        await Assert.ThrowsAsync<LogFencedException>(async () => await second.OpenAsync());

        _ = await AppendAsync(first, 1);
        await first.DisposeAsync();
        ILogStore third = Create();
        LogRecoveryInfo info = await third.OpenAsync();

        Assert.Equal(3, info.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_BaseOffsetNotLogEnd_IsRefusedAndNothingWritten()
    {
        ILogStore store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [2]);
        byte[] wrong = StoreTestBatches.Create(5, 1);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(wrong, StoreTestBatches.Header(wrong)));

        Assert.Equal(2, store.LogEndOffset);
        Assert.Equal(batches[0], (await store.ReadAsync(0, int.MaxValue)).ToArray());
        byte[] right = await AppendAsync(store, 1);
        Assert.Equal(2, StoreTestBatches.Header(right).BaseOffset);
    }

    [Fact]
    public async Task AppendAsync_BytesDisagreeWithHeader_IsRefused()
    {
        ILogStore store = await OpenAsync();
        byte[] batch = StoreTestBatches.Create(0, 2);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(batch.AsMemory(0, batch.Length - 1), StoreTestBatches.Header(batch)));

        Assert.Equal(0, store.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_BytesNotRewrittenToLogEndOffset_IsRefused()
    {
        ILogStore store = await OpenAsync();
        _ = await AppendAsync(store, 2);
        byte[] batch = StoreTestBatches.Create(0, 1);
        RecordBatchHeader header = StoreTestBatches.Header(batch) with { BaseOffset = 2 };

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.AppendAsync(batch, header));

        Assert.Equal(2, store.LogEndOffset);
    }

    /// <summary>Creates a store over <see cref="Location"/> that the test's cleanup disposes.</summary>
    protected ILogStore Create(PartitionLogOptions? options = null)
    {
        ILogStore store = CreateStore(Location, options ?? new PartitionLogOptions());
        _stores.Add(store);
        return store;
    }

    /// <summary>Creates and opens a store over <see cref="Location"/>.</summary>
    protected async Task<ILogStore> OpenAsync(PartitionLogOptions? options = null)
    {
        ILogStore store = Create(options);
        _ = await store.OpenAsync();
        return store;
    }

    /// <summary>Appends one batch of <paramref name="records"/> records at the log end offset; returns its bytes.</summary>
    protected static async Task<byte[]> AppendAsync(ILogStore store, int records, int valueBytes = 16)
    {
        long baseOffset = store.LogEndOffset;
        byte[] batch = StoreTestBatches.Create(baseOffset, records, valueBytes, baseSequence: (int)baseOffset);
        _ = await store.AppendAsync(batch, StoreTestBatches.Header(batch));
        return batch;
    }

    /// <summary>Appends one batch per entry of <paramref name="recordCounts"/>; returns their bytes.</summary>
    protected static async Task<List<byte[]>> AppendManyAsync(ILogStore store, int[] recordCounts, int valueBytes = 16)
    {
        var batches = new List<byte[]>();
        foreach (int records in recordCounts)
        {
            batches.Add(await AppendAsync(store, records, valueBytes));
        }

        return batches;
    }

    /// <summary>All snapshots the store returns, in its order.</summary>
    protected static async Task<List<(long Offset, byte[] Snapshot)>> ReadSnapshotsAsync(ILogStore store)
    {
        var snapshots = new List<(long Offset, byte[] Snapshot)>();
        await foreach ((long Offset, byte[] Snapshot) snapshot in store.ReadProducerSnapshotsAsync())
        {
            snapshots.Add(snapshot);
        }

        return snapshots;
    }
}
