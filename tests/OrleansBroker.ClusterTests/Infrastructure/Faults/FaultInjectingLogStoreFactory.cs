using OrleansBroker.Log;
using OrleansBroker.Protocol;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// An <see cref="ILogStoreFactory"/> decorator (one per silo) whose stores obey the <see cref="PartitionStorageFaults"/> of their partition
/// and register themselves as open on this silo in <see cref="StorageFaults"/>. Registered by <see cref="FaultSiloConfigurator"/> in place
/// of the broker's factory, wrapping <see cref="FileLogStoreFactory"/>.
/// </summary>
/// <param name="inner">The real factory.</param>
/// <param name="faults">The cluster's storage faults.</param>
/// <param name="silo">The silo this factory serves.</param>
public sealed class FaultInjectingLogStoreFactory(ILogStoreFactory inner, StorageFaults faults, SiloAddress silo) : ILogStoreFactory
{
    /// <inheritdoc />
    public ILogStore Create(string topic, int partition, PartitionLogOptions options)
    {
        ILogStore store = inner.Create(topic, partition, options);
        string? directory = inner is FileLogStoreFactory files ? files.GetPartitionDirectory(topic, partition) : null;
        return new FaultInjectingLogStore(store, faults.For(topic, partition), faults, silo, directory);
    }
}

/// <summary>One partition's store with fault hooks; forwards everything else to the real store.</summary>
/// <remarks>Every operation first waits while the silo is frozen (<see cref="StorageFaults.FreezeSilo"/>) and fails with
/// <see cref="LogFencedException"/> once the store was crashed.</remarks>
internal sealed class FaultInjectingLogStore(ILogStore inner, PartitionStorageFaults hooks, StorageFaults registry, SiloAddress silo, string? directory) : ILogStore
{
    private readonly Lock _sync = new();
    private byte[]? _torn;
    private volatile bool _crashed;
    private Task? _closed;

    public string Topic => hooks.Topic;

    public int Partition => hooks.Partition;

    public long LogStartOffset => inner.LogStartOffset;

    public long LogEndOffset => inner.LogEndOffset;

    public async ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        LogRecoveryInfo info = await inner.OpenAsync(cancellationToken);
        registry.Register(this, silo);
        hooks.RecordOpen(silo, info);
        await hooks.PassOpenGateAsync();
        return info;
    }

    public async ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        switch (hooks.TakeAppendFault(out int tornBytes))
        {
            case StorageFaultKind.FailBeforeWrite:
                throw new LogStorageException(
                    $"Injected fault: appending at offset {header.BaseOffset} to {Topic}-{Partition} failed before any byte was written.",
                    new IOException("Injected I/O error (EIO)."));

            case StorageFaultKind.FailAfterWrite:
                await inner.AppendAsync(batch, header, cancellationToken);
                throw new LogStorageException(
                    $"Injected fault: the batch at offset {header.BaseOffset} of {Topic}-{Partition} was written, but the storage acknowledgement was lost.",
                    new IOException("Injected I/O error after the write (EIO)."));

            case StorageFaultKind.DiskFull:
                if (tornBytes > 0)
                {
                    if (directory is null)
                    {
                        throw new InvalidOperationException("Torn writes need the file log store (FileLogStoreFactory).");
                    }

                    _torn = batch[..Math.Min(tornBytes, batch.Length - 1)].ToArray();
                }

                throw new LogStorageException(
                    $"Appending at offset {header.BaseOffset} to {Topic}-{Partition} failed (disk full: yes): No space left on device.",
                    new IOException("No space left on device", 28));

            default:
                return await inner.AppendAsync(batch, header, cancellationToken);
        }
    }

    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        if (hooks.TakeReadFault())
        {
            throw new LogStorageException($"Injected fault: reading {Topic}-{Partition} at offset {offset} failed.", new IOException("Injected read error (EIO)."));
        }

        return await inner.ReadAsync(offset, maxBytes, cancellationToken);
    }

    public async IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        await foreach (RecordBatchHeader header in inner.ReadHeadersAsync(fromOffset, cancellationToken))
        {
            yield return header;
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        await inner.FlushAsync(cancellationToken);
    }

    public async ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        await inner.WriteProducerSnapshotAsync(offset, snapshot, cancellationToken);
    }

    public async IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await EnterAsync();
        await foreach ((long Offset, byte[] Snapshot) snapshot in inner.ReadProducerSnapshotsAsync(cancellationToken))
        {
            yield return snapshot;
        }
    }

    /// <summary>The normal close (the partition log's dispose, after its checkpoint): closes the real store unless it was crashed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_crashed)
        {
            await registry.WhenNotFrozen(silo);
        }

        await CloseInnerAsync(swallowStorageErrors: false);
    }

    /// <summary>Marks the store crashed: every later (or waiting) operation throws <see cref="LogFencedException"/>.</summary>
    public void MarkCrashed() => _crashed = true;

    /// <summary>Closes the real store as a dying process would (no checkpoint from the partition log above); later calls are fenced.</summary>
    public async Task CrashAsync()
    {
        _crashed = true;
        await CloseInnerAsync(swallowStorageErrors: true);
    }

    private async Task EnterAsync()
    {
        ThrowIfCrashed();
        await registry.WhenNotFrozen(silo);
        ThrowIfCrashed();
    }

    /// <summary>
    /// Closes the real store once; every caller (the partition log's dispose, a crash) waits for that one close to finish, so when
    /// <see cref="CrashAsync"/> returns the writer lock is released even if the grain's own close started first. The store stays
    /// registered as open until then.
    /// </summary>
    private async Task CloseInnerAsync(bool swallowStorageErrors)
    {
        TaskCompletionSource? owner = null;
        Task closed;
        lock (_sync)
        {
            if (_closed is null)
            {
                owner = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _closed = owner.Task;
            }

            closed = _closed;
        }

        if (owner is not null)
        {
            try
            {
                await CloseCoreAsync();
                owner.SetResult();
            }
#pragma warning disable CA1031 // Handed to every caller through the shared task.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                owner.SetException(ex);
            }
        }

        try
        {
            await closed;
        }
        catch (LogStorageException) when (swallowStorageErrors)
        {
            // The handles are released even when the final fsync fails; that is all a dead process guarantees.
        }
    }

    private async Task CloseCoreAsync()
    {
        try
        {
            await inner.DisposeAsync();
        }
        finally
        {
            try
            {
                WriteTornTail();
            }
            finally
            {
                registry.Unregister(this);
            }
        }
    }

    /// <summary>Leaves the torn prefix of a disk-full write at the end of the active (newest) segment, after the real store closed it.</summary>
    private void WriteTornTail()
    {
        byte[]? torn = Interlocked.Exchange(ref _torn, null);
        if (torn is null || directory is null)
        {
            return;
        }

        string? active = Directory.EnumerateFiles(directory, "*.log").Order(StringComparer.Ordinal).LastOrDefault();
        if (active is null)
        {
            return;
        }

        using var segment = new FileStream(active, FileMode.Append, FileAccess.Write, FileShare.None);
        segment.Write(torn);
    }

    private void ThrowIfCrashed()
    {
        if (_crashed)
        {
            throw new LogFencedException($"The store of {Topic}-{Partition} on silo {silo} was crashed (its silo is dead).");
        }
    }
}
