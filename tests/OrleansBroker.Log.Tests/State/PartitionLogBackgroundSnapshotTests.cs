using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Log.Tests.TestDoubles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.State;

/// <summary>
/// Periodic producer-state snapshots through a store with <see cref="ILogStore.CanSnapshotConcurrently"/>: the appends that trigger
/// them are acknowledged without waiting for the write, one write runs at a time, and checkpoint and close wait for it.
/// </summary>
public sealed class PartitionLogBackgroundSnapshotTests
{
    private const long Pid = 91;
    private readonly MemoryDisk _disk = new();

    [Fact]
    public async Task AppendAsync_SnapshotDue_AcknowledgesBeforeTheSnapshotIsWritten()
    {
        var store = new GatedStore(new MemoryLogStore(_disk));
        PartitionLog log = await OpenAsync(store);

        LogAppendResult first = await log.AppendAsync(Batch(0));
        LogAppendResult second = await log.AppendAsync(Batch(2));

        Assert.Equal(AppendStatus.Appended, first.Status);
        Assert.Equal(AppendStatus.Appended, second.Status);
        Assert.Equal(1, store.SnapshotsStarted);
        Assert.Equal(0, _disk.SnapshotWrites);

        store.Release();
        await log.DisposeAsync();
        Assert.Equal(2, _disk.SnapshotWrites);
        Assert.Equal([2L, 4L], _disk.StoredSnapshots().Select(s => s.Offset).Order());
    }

    [Fact]
    public async Task AppendAsync_SnapshotStillBeingWritten_StartsNoSecondOneUntilItIsDone()
    {
        var store = new GatedStore(new MemoryLogStore(_disk));
        PartitionLog log = await OpenAsync(store);
        _ = await log.AppendAsync(Batch(0));

        _ = await log.AppendAsync(Batch(2));
        _ = await log.AppendAsync(Batch(4));
        Assert.Equal(1, store.SnapshotsStarted);

        store.Release();
        await log.BackgroundSnapshot!;
        _ = await log.AppendAsync(Batch(6));

        Assert.Equal(2, store.SnapshotsStarted);
        await log.DisposeAsync();
    }

    [Fact]
    public async Task CheckpointAsync_SnapshotBeingWritten_WaitsForIt()
    {
        var store = new GatedStore(new MemoryLogStore(_disk));
        PartitionLog log = await OpenAsync(store);
        _ = await log.AppendAsync(Batch(0));

        Task checkpoint = log.CheckpointAsync().AsTask();
        Assert.False(checkpoint.IsCompleted);
        Assert.Equal(0, _disk.Flushes);

        store.Release();
        await checkpoint;
        Assert.Equal(1, _disk.Flushes);
        Assert.Equal(2, _disk.SnapshotWrites);
        await log.DisposeAsync();
    }

    [Fact]
    public async Task OpenAsync_AfterBackgroundSnapshots_RecoversFromTheNewest()
    {
        var store = new GatedStore(new MemoryLogStore(_disk)) { Open = true };
        PartitionLog log = await OpenAsync(store);
        for (int sequence = 0; sequence < 10; sequence += 2)
        {
            _ = await log.AppendAsync(Batch(sequence));
            await log.BackgroundSnapshot!;
        }

        _disk.Crash();
        await using PartitionLog reopened = await OpenAsync(new MemoryLogStore(_disk));

        Assert.Equal(10, reopened.LogEndOffset);
        Assert.Equal(10, reopened.Recovery.SnapshotOffset);
        Assert.Equal(0, reopened.Recovery.BatchesReplayed);
        LogAppendResult retry = await reopened.AppendAsync(Batch(8));
        Assert.Equal(AppendStatus.Duplicate, retry.Status);
        Assert.Equal(8, retry.BaseOffset);
    }

    private static byte[] Batch(int baseSequence) => TestBatches.Create(Pid, 0, baseSequence, records: 2);

    /// <summary>A snapshot after every batch, so each append triggers one.</summary>
    private static Task<PartitionLog> OpenAsync(ILogStore store) =>
        PartitionLog.OpenAsync(store, new PartitionLogOptions { SnapshotIntervalBytes = 1 }, new FakeTimeProvider()).AsTask();

    /// <summary>A store that allows concurrent snapshots and holds each snapshot write until <see cref="Release"/>.</summary>
    private sealed class GatedStore(MemoryLogStore inner) : ILogStore
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Open { get; init; }

        public int SnapshotsStarted { get; private set; }

        public long LogStartOffset => inner.LogStartOffset;

        public long LogEndOffset => inner.LogEndOffset;

        public bool CanSnapshotConcurrently => true;

        /// <summary>Lets the held snapshot write, and every later one, through.</summary>
        public void Release() => _gate.TrySetResult();

        public ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default) => inner.OpenAsync(cancellationToken);

        public ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default) =>
            inner.AppendAsync(batch, header, cancellationToken);

        public ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(offset, maxBytes, cancellationToken);

        public IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, CancellationToken cancellationToken = default) =>
            inner.ReadHeadersAsync(fromOffset, cancellationToken);

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public async ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default)
        {
            SnapshotsStarted++;
            if (!Open)
            {
                await _gate.Task;
            }

            await inner.WriteProducerSnapshotAsync(offset, snapshot, cancellationToken);
        }

        public IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync(CancellationToken cancellationToken = default) =>
            inner.ReadProducerSnapshotsAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
