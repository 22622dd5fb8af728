using System.Globalization;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Log;
using OrleansBroker.Log.Tests.Storage;
using OrleansBroker.Protocol;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.AzureStorage.Tests;

/// <summary>What the Azure store adds to the contract: blob layout, fencing by lease and by conditional appends, torn-tail recovery, read cost.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobLogStoreTests : IAsyncLifetime
{
    private const string Prefix = "orders-0";

    private readonly AzuriteFixture _azurite;
    private readonly BlobContainerClient _container;
    private readonly RequestCounter _counter = new();
    private readonly List<AzureBlobLogStore> _stores = [];

    public AzureBlobLogStoreTests(AzuriteFixture azurite)
    {
        _azurite = azurite;
        var options = new BlobClientOptions();
        options.AddPolicy(_counter, HttpPipelinePosition.PerRetry);
        _container = new BlobContainerClient(azurite.Azurite.ConnectionString, "t" + Guid.NewGuid().ToString("N"), options);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await _container.DeleteIfExistsAsync();
    }

    [Fact]
    public async Task AppendAsync_ThreeBatches_StoredBackToBackInOneAppendBlobNamedByBaseOffset()
    {
        var store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [2, 1, 3]);

        var names = await BlobNamesAsync();
        var segment = _container.GetAppendBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, 0));
        var properties = (await segment.GetPropertiesAsync()).Value;
        byte[] content = (await segment.DownloadContentAsync()).Value.Content.ToArray();

        Assert.Equal(["orders-0/.writer", "orders-0/00000000000000000000.log"], names);
        Assert.Equal(BlobType.Append, properties.BlobType);
        Assert.Equal(3, properties.BlobCommittedBlockCount);
        Assert.Equal(StoreTestBatches.Concat(batches), content);
    }

    [Fact]
    public async Task OpenAsync_WhileAnotherStoreHoldsTheLease_ThrowsLogFencedAndWritesNothing()
    {
        var first = await OpenAsync();
        _ = await AppendManyAsync(first, [2]);
        var lockBlob = _container.GetBlobClient(AzureBlobLogStore.WriterBlobNameFor(Prefix));
        var segment = _container.GetBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, 0));
        ETag before = (await segment.GetPropertiesAsync()).Value.ETag;

        var second = Create();
        var error = await Assert.ThrowsAsync<LogFencedException>(async () => await second.OpenAsync());

        Assert.Contains(".writer", error.Message, StringComparison.Ordinal);
        Assert.Equal(LeaseState.Leased, (await lockBlob.GetPropertiesAsync()).Value.LeaseState);
        Assert.Equal(before, (await segment.GetPropertiesAsync()).Value.ETag);
        _ = await AppendAsync(first, 1);
        Assert.Equal(3, first.LogEndOffset);
    }

    [Fact]
    public async Task DisposeAsync_OpenStore_ReleasesTheWriterLease()
    {
        var store = await OpenAsync();
        var lockBlob = _container.GetBlobClient(AzureBlobLogStore.WriterBlobNameFor(Prefix));
        Assert.Equal(LeaseState.Leased, (await lockBlob.GetPropertiesAsync()).Value.LeaseState);

        await store.DisposeAsync();

        Assert.Equal(LeaseState.Available, (await lockBlob.GetPropertiesAsync()).Value.LeaseState);
    }

    [Fact]
    public async Task AppendAsync_AppendPositionChangedBehindItsBack_ThrowsLogFencedAndWritesNothing()
    {
        var store = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(store, [2, 2]);
        byte[] intruder = StoreTestBatches.Create(4, 1);
        await AppendBlockDirectlyAsync(0, intruder);
        long lengthBefore = await SegmentLengthAsync(0);
        byte[] mine = StoreTestBatches.Create(4, 3);

        await Assert.ThrowsAsync<LogFencedException>(async () => await store.AppendAsync(mine, StoreTestBatches.Header(mine)));

        Assert.Equal(lengthBefore, await SegmentLengthAsync(0));
        Assert.Equal(4, store.LogEndOffset);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.AppendAsync(mine, StoreTestBatches.Header(mine)));
        Assert.Equal(StoreTestBatches.Concat(batches), (await store.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task AppendAsync_LeaseBrokenAndSecondWriterOpened_FirstWriterIsFencedBySecondWritersClaim()
    {
        var first = await OpenAsync();
        List<byte[]> acked = await AppendManyAsync(first, [2]);
        await _container.GetBlobClient(AzureBlobLogStore.WriterBlobNameFor(Prefix)).GetBlobLeaseClient().BreakAsync(TimeSpan.Zero);
        var second = await OpenAsync();
        byte[] late = StoreTestBatches.Create(2, 1);

        await Assert.ThrowsAsync<LogFencedException>(async () => await first.AppendAsync(late, StoreTestBatches.Header(late)));

        Assert.Equal(2, second.LogEndOffset);
        acked.Add(await AppendAsync(second, 3));
        Assert.Equal(StoreTestBatches.Concat(acked), (await second.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task AppendAsync_RollAfterSecondWriterClaimedTheTail_IsFencedAndCreatesNoSegment()
    {
        int batchSize = StoreTestBatches.Create(0, 2).Length;
        var options = new PartitionLogOptions { SegmentBytes = batchSize * 2 };
        var first = await OpenAsync(options);
        _ = await AppendManyAsync(first, [2, 2]);
        await _container.GetBlobClient(AzureBlobLogStore.WriterBlobNameFor(Prefix)).GetBlobLeaseClient().BreakAsync(TimeSpan.Zero);
        var second = await OpenAsync(options);
        byte[] late = StoreTestBatches.Create(4, 2);

        await Assert.ThrowsAsync<LogFencedException>(async () => await first.AppendAsync(late, StoreTestBatches.Header(late)));

        Assert.Equal(["orders-0/.writer", "orders-0/00000000000000000000.log"], await BlobNamesAsync());
        Assert.Equal(4, second.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_LeaseTakenByAnotherWriterAfterExpiry_RenewsBeforeWritingAndIsFenced()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var store = await OpenAsync(time: time);
        _ = await AppendManyAsync(store, [1]);
        var lease = _container.GetBlobClient(AzureBlobLogStore.WriterBlobNameFor(Prefix)).GetBlobLeaseClient();
        await lease.BreakAsync(TimeSpan.Zero);
        await lease.AcquireAsync(TimeSpan.FromSeconds(60));
        time.Advance(AzureBlobLogStoreOptions.DefaultLeaseDuration);
        long lengthBefore = await SegmentLengthAsync(0);
        byte[] batch = StoreTestBatches.Create(1, 1);

        await Assert.ThrowsAsync<LogFencedException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));

        Assert.Equal(lengthBefore, await SegmentLengthAsync(0));
        await lease.ReleaseAsync();
    }

    [Fact]
    public async Task OpenAsync_GarbageBlockAtTail_CutsItSealsTheSegmentAndContinuesInANewOne()
    {
        var first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [2, 3, 1]);
        long validLength = batches.Sum(b => b.Length);
        await first.DisposeAsync();
        byte[] garbage = Enumerable.Range(0, 100).Select(i => (byte)(i * 7)).ToArray();
        await AppendBlockDirectlyAsync(0, garbage);

        var second = Create();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(new LogRecoveryInfo(0, 6, 2, 100), info);
        var sealedSegment = await _container.GetBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, 0)).GetPropertiesAsync();
        Assert.Equal(validLength.ToString(CultureInfo.InvariantCulture), sealedSegment.Value.Metadata["validlength"]);
        Assert.Equal(StoreTestBatches.Concat(batches), (await second.ReadAsync(0, int.MaxValue)).ToArray());
        batches.Add(await AppendAsync(second, 2));
        Assert.Contains(AzureBlobLogStore.SegmentBlobName(Prefix, 6), await BlobNamesAsync());
        await second.DisposeAsync();

        var third = Create();
        LogRecoveryInfo again = await third.OpenAsync();

        Assert.Equal(new LogRecoveryInfo(0, 8, 2, 0), again);
        Assert.Equal(StoreTestBatches.Concat(batches), (await third.ReadAsync(0, int.MaxValue)).ToArray());
        Assert.Equal(StoreTestBatches.Concat(batches.Skip(1)), (await third.ReadAsync(4, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_HalfABatchAtTail_CutsExactlyThoseBytes()
    {
        var first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [2, 2]);
        await first.DisposeAsync();
        byte[] next = StoreTestBatches.Create(4, 3);
        await AppendBlockDirectlyAsync(0, next[..(next.Length / 2)]);

        var second = Create();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(next.Length / 2, info.TruncatedBytes);
        Assert.Equal(4, info.LogEndOffset);
        byte[] appended = await AppendAsync(second, 3);
        Assert.Equal(4, StoreTestBatches.Header(appended).BaseOffset);
        Assert.Equal(StoreTestBatches.Concat([.. batches, appended]), (await second.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_BatchWithBadCrcAtTail_CutsIt()
    {
        var first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [2]);
        await first.DisposeAsync();
        byte[] corrupt = StoreTestBatches.Create(2, 2);
        corrupt[^1] ^= 0xFF;
        await AppendBlockDirectlyAsync(0, corrupt);

        var second = Create();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(new LogRecoveryInfo(0, 2, 2, corrupt.Length), info);
        Assert.Equal(batches[0], (await second.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_TailHoldsOnlyGarbage_ReplacesItByAnEmptySegment()
    {
        var first = await OpenAsync();
        await first.DisposeAsync();
        await AppendBlockDirectlyAsync(0, [1, 2, 3, 4, 5]);

        var second = Create();
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(new LogRecoveryInfo(0, 0, 1, 5), info);
        Assert.Equal(0, await SegmentLengthAsync(0));
        byte[] batch = await AppendAsync(second, 2);
        Assert.Equal(batch, (await second.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task OpenAsync_TailSealedByARollThatDidNotFinish_StartsTheNextSegment()
    {
        var first = await OpenAsync();
        List<byte[]> batches = await AppendManyAsync(first, [2, 2]);
        await first.DisposeAsync();
        var tail = _container.GetBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, 0));
        await tail.SetMetadataAsync(new Dictionary<string, string> { ["sealed"] = "true", ["validlength"] = batches.Sum(b => b.Length).ToString(CultureInfo.InvariantCulture) });

        var second = Create();
        LogRecoveryInfo info = await second.OpenAsync();
        byte[] next = await AppendAsync(second, 1);

        Assert.Equal(new LogRecoveryInfo(0, 4, 2, 0), info);
        Assert.Equal(next, (await _container.GetBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, 4)).DownloadContentAsync()).Value.Content.ToArray());
        Assert.Equal(StoreTestBatches.Concat([.. batches, next]), (await second.ReadAsync(0, int.MaxValue)).ToArray());
    }

    [Fact]
    public async Task AppendAsync_MaxBlocksPerSegmentReached_RollsAndReportsTheRoll()
    {
        var store = await OpenAsync(storeOptions: new AzureBlobLogStoreOptions { MaxBlocksPerSegment = 3 });
        var rolled = new List<bool>();

        for (int i = 0; i < 7; i++)
        {
            byte[] batch = StoreTestBatches.Create(store.LogEndOffset, 1);
            rolled.Add(await store.AppendAsync(batch, StoreTestBatches.Header(batch)));
        }

        Assert.Equal([false, false, false, true, false, false, true], rolled);
        Assert.Equal(
            ["orders-0/.writer", "orders-0/00000000000000000000.index", "orders-0/00000000000000000000.log", "orders-0/00000000000000000003.index",
             "orders-0/00000000000000000003.log", "orders-0/00000000000000000006.log"],
            await BlobNamesAsync());
    }

    [Fact]
    public async Task ReadAsync_OldSegmentWithoutIndexBlobAfterReopen_RebuildsTheIndexAndReturnsExactBytes()
    {
        var options = new PartitionLogOptions { SegmentBytes = 2000, IndexIntervalBytes = 200 };
        var first = await OpenAsync(options);
        List<byte[]> batches = await AppendManyAsync(first, Enumerable.Repeat(1, 30).ToArray());
        await first.DisposeAsync();
        await _container.GetBlobClient($"{Prefix}/{0:D20}.index").DeleteAsync();

        var second = Create(options);
        _ = await second.OpenAsync();

        for (int offset = 0; offset < 30; offset += 7)
        {
            ReadOnlyMemory<byte> read = await second.ReadAsync(offset, batches[offset].Length);
            Assert.Equal(batches[offset], read.ToArray());
        }
    }

    [Fact]
    public async Task ReadHeadersAsync_NearTheEndOfALongLog_DownloadsOnlyTheTail()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 1024 };
        var store = await OpenAsync(options, new AzureBlobLogStoreOptions { ReadChunkBytes = 4096 });
        List<byte[]> batches = await AppendManyAsync(store, Enumerable.Repeat(1, 200).ToArray());
        long logBytes = batches.Sum(b => b.Length);
        _counter.Reset();

        var headers = new List<RecordBatchHeader>();
        await foreach (var header in store.ReadHeadersAsync(195))
        {
            headers.Add(header);
        }

        Assert.Equal([195L, 196, 197, 198, 199], headers.Select(h => h.BaseOffset));
        Assert.InRange(_counter.Gets, 1, 2);
        Assert.True(_counter.DownloadedBytes <= 4096 + 1024, $"downloaded {_counter.DownloadedBytes} of {logBytes} bytes");
    }

    [Fact]
    public async Task ReadAsync_FromTheMiddleOfALongSegment_DownloadsAboutMaxBytes()
    {
        var options = new PartitionLogOptions { IndexIntervalBytes = 1024 };
        var store = await OpenAsync(options, new AzureBlobLogStoreOptions { ReadChunkBytes = 4096 });
        List<byte[]> batches = await AppendManyAsync(store, Enumerable.Repeat(1, 200).ToArray());
        int maxBytes = batches[100].Length * 5;
        _counter.Reset();

        ReadOnlyMemory<byte> read = await store.ReadAsync(100, maxBytes);

        Assert.Equal(StoreTestBatches.Concat(batches.Skip(100).Take(5)), read.ToArray());
        Assert.Equal(1, _counter.Gets);
        Assert.True(_counter.DownloadedBytes <= maxBytes + 1024 + 4096, $"downloaded {_counter.DownloadedBytes} bytes");
    }

    [Fact]
    public async Task WriteProducerSnapshotAsync_ThreeSnapshots_KeepsTwoBlockBlobsBesideTheLog()
    {
        var store = await OpenAsync();
        _ = await AppendManyAsync(store, [1, 1, 1]);

        for (int offset = 1; offset <= 3; offset++)
        {
            await store.WriteProducerSnapshotAsync(offset, new byte[] { (byte)offset });
        }

        var snapshots = (await BlobNamesAsync()).Where(n => n.EndsWith(".snapshot", StringComparison.Ordinal)).ToList();
        Assert.Equal(["orders-0/00000000000000000002.snapshot", "orders-0/00000000000000000003.snapshot"], snapshots);
        var properties = await _container.GetBlobClient(snapshots[1]).GetPropertiesAsync();
        Assert.Equal(BlobType.Block, properties.Value.BlobType);
    }

    [Fact]
    public async Task ReadProducerSnapshotsAsync_SnapshotPastLogEnd_IsNotReturned()
    {
        var store = await OpenAsync();
        _ = await AppendManyAsync(store, [2]);
        await store.WriteProducerSnapshotAsync(2, new byte[] { 2 });
        await _container.GetBlobClient($"{Prefix}/{9:D20}.snapshot").UploadAsync(new BinaryData(new byte[] { 9 }));

        var snapshots = new List<(long Offset, byte[] Snapshot)>();
        await foreach (var snapshot in store.ReadProducerSnapshotsAsync())
        {
            snapshots.Add(snapshot);
        }

        Assert.Equal([2L], snapshots.Select(s => s.Offset));
        Assert.Equal(new byte[] { 2 }, snapshots[0].Snapshot);
    }

    [Fact]
    public async Task OpenAsync_ReopenAfterManyRolls_KeepsEveryAcknowledgedBatch()
    {
        var options = new PartitionLogOptions { SegmentBytes = 1000, IndexIntervalBytes = 100 };
        var first = await OpenAsync(options);
        List<byte[]> batches = await AppendManyAsync(first, Enumerable.Range(1, 40).Select(i => 1 + (i % 4)).ToArray());
        long end = first.LogEndOffset;
        await first.DisposeAsync();

        var second = Create(options);
        LogRecoveryInfo info = await second.OpenAsync();

        Assert.Equal(end, info.LogEndOffset);
        Assert.Equal(0, info.TruncatedBytes);
        Assert.Equal(StoreTestBatches.Concat(batches), (await second.ReadAsync(0, int.MaxValue)).ToArray());
        var headers = new List<RecordBatchHeader>();
        await foreach (var header in second.ReadHeadersAsync(0))
        {
            headers.Add(header);
        }

        Assert.Equal(batches.Select(StoreTestBatches.Header), headers);
    }

    [Fact]
    public async Task AppendAsync_ContainerDeletedBehindItsBack_ThrowsLogStorageExceptionThenRefusesAppends()
    {
        var store = await OpenAsync();
        _ = await AppendManyAsync(store, [1]);
        await _container.DeleteAsync();
        byte[] batch = StoreTestBatches.Create(1, 1);

        var error = await Assert.ThrowsAsync<LogStorageException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));

        Assert.IsType<RequestFailedException>(error.InnerException);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.AppendAsync(batch, StoreTestBatches.Header(batch)));
    }

    [Fact]
    public async Task OpenAsync_StorageUnreachable_ThrowsLogStorageException()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0;
        var nowhere = new BlobContainerClient(Azurite.BuildConnectionString(ClosedPort()), "nothing", options);
        await using var store = new AzureBlobLogStore(nowhere, Prefix, new PartitionLogOptions(), TimeProvider.System);

        var error = await Assert.ThrowsAsync<LogStorageException>(async () => await store.OpenAsync());

        Assert.Contains("open", error.Message, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<byte[]> AppendAsync(ILogStore store, int records)
    {
        long baseOffset = store.LogEndOffset;
        byte[] batch = StoreTestBatches.Create(baseOffset, records, baseSequence: (int)baseOffset);
        _ = await store.AppendAsync(batch, StoreTestBatches.Header(batch));
        return batch;
    }

    private static async Task<List<byte[]>> AppendManyAsync(ILogStore store, int[] recordCounts)
    {
        var batches = new List<byte[]>();
        foreach (int records in recordCounts)
        {
            batches.Add(await AppendAsync(store, records));
        }

        return batches;
    }

    private AzureBlobLogStore Create(PartitionLogOptions? options = null, AzureBlobLogStoreOptions? storeOptions = null, TimeProvider? time = null)
    {
        var store = new AzureBlobLogStore(_container, Prefix, options ?? new PartitionLogOptions(), storeOptions ?? AzureBlobLogStoreOptions.Default, time ?? TimeProvider.System);
        _stores.Add(store);
        return store;
    }

    private async Task<AzureBlobLogStore> OpenAsync(PartitionLogOptions? options = null, AzureBlobLogStoreOptions? storeOptions = null, TimeProvider? time = null)
    {
        var store = Create(options, storeOptions, time);
        _ = await store.OpenAsync();
        return store;
    }

    private async Task AppendBlockDirectlyAsync(long segmentBaseOffset, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        await _container.GetAppendBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, segmentBaseOffset)).AppendBlockAsync(stream);
    }

    private async Task<long> SegmentLengthAsync(long baseOffset) =>
        (await _container.GetBlobClient(AzureBlobLogStore.SegmentBlobName(Prefix, baseOffset)).GetPropertiesAsync()).Value.ContentLength;

    private async Task<List<string>> BlobNamesAsync()
    {
        var names = new List<string>();
        await foreach (var item in _container.GetBlobsAsync())
        {
            names.Add(item.Name);
        }

        return names;
    }
}
