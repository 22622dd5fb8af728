using System.Collections.Concurrent;
using OrleansBroker.Log;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>How an injected append fault behaves.</summary>
public enum StorageFaultKind
{
    /// <summary>The append throws before any byte is written (an I/O error): nothing is in the log.</summary>
    FailBeforeWrite,

    /// <summary>The batch is written by the real store, then the append throws: the storage acknowledgement is lost, the batch is in the log.</summary>
    FailAfterWrite,

    /// <summary>The append throws an ENOSPC-style <see cref="IOException"/>; optionally a torn prefix of the batch is left on disk (see
    /// <see cref="PartitionStorageFaults.SetDiskFull"/>).</summary>
    DiskFull,
}

/// <summary>What one open of a partition's store found, and on which silo.</summary>
/// <param name="Silo">The silo whose partition grain opened the store.</param>
/// <param name="Recovery">What the real store's recovery reported (log end offset, bytes truncated from a torn tail).</param>
public sealed record StoreOpen(SiloAddress Silo, LogRecoveryInfo Recovery);

/// <summary>
/// Storage faults of one cluster: per-partition append hooks (<see cref="For"/>) and the registry of open stores per silo, so a test that
/// kills a silo can crash that silo's stores the way process death does (<see cref="CrashStoresOfSiloAsync"/>).
/// </summary>
/// <remarks>
/// <para>Why a crash needs help: on Orleans 10.4.2 <c>TestCluster.KillSiloAsync</c> still deactivates the in-process silo's grains, so
/// the partition log checkpoints (flush + producer-state snapshot) and releases its writer lock before the silo is gone
/// (<c>SiloCrashTests</c> proves it). A dying process writes nothing more. <see cref="CrashStoresOfSiloAsync"/>, called before the kill,
/// closes the silo's stores directly (file handles and the <c>.lock</c> flock released, as the OS does on process death), bypassing the
/// partition log's checkpoint, and makes every later call on them throw <see cref="LogFencedException"/>, so the shutdown path that
/// follows persists nothing: the next activation must recover the dedup state from the log itself.</para>
/// <para>Without the release, a killed silo that did NOT deactivate (a hung or partitioned silo) would keep the flock, and every other
/// activation of the partition would answer <see cref="ErrorCode.NotLeaderOrFollower"/>: the single-writer fence working as designed.
/// (The store's own close still fsyncs and writes the active segment's index; after a crash the page cache holds the same bytes, and
/// recovery rebuilds the last segment's index anyway.)</para>
/// </remarks>
public sealed class StorageFaults
{
    private readonly ConcurrentDictionary<(string Topic, int Partition), PartitionStorageFaults> _partitions = new();
    private readonly ConcurrentDictionary<FaultInjectingLogStore, SiloAddress> _open = new();
    private readonly ConcurrentDictionary<SiloAddress, TaskCompletionSource> _frozen = new();

    /// <summary>The hooks of one partition (created on first use).</summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="partition">Partition number.</param>
    /// <returns>The hooks.</returns>
    public PartitionStorageFaults For(string topic, int partition) =>
        _partitions.GetOrAdd((topic, partition), static key => new PartitionStorageFaults(key.Topic, key.Partition));

    /// <summary>How many stores are open on <paramref name="silo"/>, optionally only of one partition.</summary>
    /// <param name="silo">The silo.</param>
    /// <param name="topic">Only this topic, or null.</param>
    /// <param name="partition">Only this partition (with <paramref name="topic"/>), or null.</param>
    /// <returns>The count.</returns>
    public int OpenStoreCount(SiloAddress silo, string? topic = null, int? partition = null) =>
        _open.Count(e => e.Value.Equals(silo) && (topic is null || (e.Key.Topic == topic && (partition is null || e.Key.Partition == partition))));

    /// <summary>
    /// Crashes every store open on <paramref name="silo"/> as process death would: file handles closed, writer lock released, no
    /// producer-state checkpoint; later calls on those stores throw <see cref="LogFencedException"/>. Call it right before killing the silo.
    /// </summary>
    /// <param name="silo">The silo about to be killed.</param>
    /// <returns>How many stores were crashed.</returns>
    public async Task<int> CrashStoresOfSiloAsync(SiloAddress silo)
    {
        int released = 0;
        if (_frozen.TryRemove(silo, out TaskCompletionSource? frozen))
        {
            // Mark the stores released before waking their waiting operations, so those fail instead of proceeding.
            foreach ((FaultInjectingLogStore store, SiloAddress owner) in _open.ToArray())
            {
                if (owner.Equals(silo))
                {
                    store.MarkCrashed();
                }
            }

            frozen.TrySetResult();
        }

        foreach ((FaultInjectingLogStore store, SiloAddress owner) in _open.ToArray())
        {
            if (owner.Equals(silo))
            {
                await store.CrashAsync();
                released++;
            }
        }

        return released;
    }

    /// <summary>
    /// Freezes every store of <paramref name="silo"/> (open now or later): each store operation waits until the silo's stores are crashed
    /// (<see cref="CrashStoresOfSiloAsync"/>), like a hung process that still holds its files. Use it to make a kill deterministic in the
    /// other direction: the silo's deactivation cannot checkpoint or close, so its writer lock stays held until the crash.
    /// </summary>
    /// <param name="silo">The silo.</param>
    public void FreezeSilo(SiloAddress silo) =>
        _frozen.GetOrAdd(silo, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>
    /// Releases whatever stores are still open on a silo that is already dead (same action as <see cref="CrashStoresOfSiloAsync"/>).
    /// After a plain <c>TestCluster.KillSiloAsync</c> on Orleans 10.4.2 this usually finds nothing, because the kill deactivated the grains
    /// and they checkpointed and closed their stores; for a real crash call <see cref="CrashStoresOfSiloAsync"/> before the kill
    /// (<see cref="ClusterOps.KillSiloAsync"/> does).
    /// </summary>
    /// <param name="silo">The dead silo.</param>
    /// <returns>How many stores were released.</returns>
    public Task<int> ReleaseStoresOfSiloAsync(SiloAddress silo) => CrashStoresOfSiloAsync(silo);

    /// <summary>Clears every partition's pending faults (open stores stay registered: they are real).</summary>
    public void Reset()
    {
        foreach (PartitionStorageFaults hooks in _partitions.Values)
        {
            hooks.Reset();
        }
    }

    internal void Register(FaultInjectingLogStore store, SiloAddress silo) => _open[store] = silo;

    /// <summary>Completes at once unless <paramref name="silo"/> is frozen; then when it is crashed.</summary>
    internal Task WhenNotFrozen(SiloAddress silo) => _frozen.TryGetValue(silo, out TaskCompletionSource? frozen) ? frozen.Task : Task.CompletedTask;

    internal void Unregister(FaultInjectingLogStore store) => _open.TryRemove(store, out _);
}

/// <summary>
/// Append faults and observations for one partition's store, on whichever silo opens it. Faults queue up: each armed fault is consumed
/// by one append, in the order armed; <see cref="SetDiskFull"/> is a state instead, failing every append until cleared.
/// </summary>
public sealed class PartitionStorageFaults
{
    private readonly Lock _sync = new();
    private readonly Queue<StorageFaultKind> _pending = new();
    private readonly List<StoreOpen> _opens = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _openWaiters = [];
    private FaultGate? _openGate;
    private bool _diskFull;
    private int _tornBytes;
    private int _appendsFailed;
    private int _appends;

    internal PartitionStorageFaults(string topic, int partition)
    {
        Topic = topic;
        Partition = partition;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>The partition number.</summary>
    public int Partition { get; }

    /// <summary>Appends that reached the store (successful or failed by a fault).</summary>
    public int Appends
    {
        get
        {
            lock (_sync)
            {
                return _appends;
            }
        }
    }

    /// <summary>Appends failed by an injected fault.</summary>
    public int AppendsFailed
    {
        get
        {
            lock (_sync)
            {
                return _appendsFailed;
            }
        }
    }

    /// <summary>Every successful open of this partition's store, in order (the first is the first activation).</summary>
    public IReadOnlyList<StoreOpen> Opens
    {
        get
        {
            lock (_sync)
            {
                return [.. _opens];
            }
        }
    }

    private int _readFaults;

    /// <summary>The next read (a fetch) fails with an I/O error, which fails the partition's log like any storage error.</summary>
    public void FailNextRead()
    {
        lock (_sync)
        {
            _readFaults++;
        }
    }

    /// <summary>Consumes one armed read fault; false when none is armed.</summary>
    internal bool TakeReadFault()
    {
        lock (_sync)
        {
            if (_readFaults == 0)
            {
                return false;
            }

            _readFaults--;
            return true;
        }
    }

    /// <summary>The next <paramref name="count"/> appends fail before writing anything (<see cref="StorageFaultKind.FailBeforeWrite"/>).</summary>
    /// <param name="count">Appends to fail.</param>
    public void FailNextAppendBeforeWrite(int count = 1) => Arm(StorageFaultKind.FailBeforeWrite, count);

    /// <summary>The next <paramref name="count"/> appends are written, then fail (<see cref="StorageFaultKind.FailAfterWrite"/>: lost storage ack).</summary>
    /// <param name="count">Appends to fail.</param>
    public void FailNextAppendAfterWrite(int count = 1) => Arm(StorageFaultKind.FailAfterWrite, count);

    /// <summary>
    /// While <paramref name="full"/>, every append fails with an ENOSPC <see cref="IOException"/>. With <paramref name="tornBytes"/> &gt; 0 the
    /// first failing append leaves that many leading bytes of its batch at the end of the active segment once the store is closed, as a
    /// write cut short by a full disk does; the next open's recovery must truncate them.
    /// </summary>
    /// <param name="full">True to fill the disk, false to free it.</param>
    /// <param name="tornBytes">Bytes of a torn write to leave behind (0 = none).</param>
    public void SetDiskFull(bool full, int tornBytes = 0)
    {
        lock (_sync)
        {
            _diskFull = full;
            _tornBytes = full ? tornBytes : 0;
        }
    }

    /// <summary>Waits until the store of this partition has been opened <paramref name="count"/> times in total.</summary>
    /// <param name="count">Opens expected.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <returns>A task that completes when it has.</returns>
    /// <exception cref="TimeoutException">Fewer opens in time; the message names the partition.</exception>
    public Task WaitForOpenAsync(int count, TimeSpan timeout)
    {
        Task signal;
        lock (_sync)
        {
            if (_opens.Count >= count)
            {
                return Task.CompletedTask;
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _openWaiters.Add((count, tcs));
            signal = tcs.Task;
        }

        return Wait.ForAsync(signal, timeout, $"open #{count} of the store of partition {Topic}-{Partition} (opened {Opens.Count} times)");
    }

    /// <summary>
    /// Holds the next store open of this partition at <paramref name="gate"/>, right after the real store opened (its writer lock is
    /// taken), as a slow recovery would; later opens pass. Cleared by <see cref="StorageFaults.Reset"/>.
    /// </summary>
    /// <param name="gate">Where the open waits until released.</param>
    public void HoldNextOpen(FaultGate gate)
    {
        ArgumentNullException.ThrowIfNull(gate);
        lock (_sync)
        {
            _openGate = gate;
        }
    }

    internal Task PassOpenGateAsync()
    {
        lock (_sync)
        {
            FaultGate? gate = _openGate;
            _openGate = null;
            return gate?.PassAsync() ?? Task.CompletedTask;
        }
    }

    internal void Reset()
    {
        lock (_sync)
        {
            _openGate?.Release();
            _openGate = null;
            _pending.Clear();
            _diskFull = false;
            _tornBytes = 0;
            _readFaults = 0;
        }
    }

    internal void RecordOpen(SiloAddress silo, LogRecoveryInfo recovery)
    {
        lock (_sync)
        {
            _opens.Add(new StoreOpen(silo, recovery));
            for (int i = _openWaiters.Count - 1; i >= 0; i--)
            {
                if (_openWaiters[i].Count <= _opens.Count)
                {
                    _openWaiters[i].Signal.TrySetResult();
                    _openWaiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Takes the fault for the next append, if any; <paramref name="tornBytes"/> is set for a disk-full fault that tears the write.</summary>
    internal StorageFaultKind? TakeAppendFault(out int tornBytes)
    {
        lock (_sync)
        {
            _appends++;
            tornBytes = 0;
            if (_diskFull)
            {
                _appendsFailed++;
                tornBytes = _tornBytes;
                _tornBytes = 0;
                return StorageFaultKind.DiskFull;
            }

            if (_pending.TryDequeue(out StorageFaultKind kind))
            {
                _appendsFailed++;
                return kind;
            }

            return null;
        }
    }

    private void Arm(StorageFaultKind kind, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        lock (_sync)
        {
            for (int i = 0; i < count; i++)
            {
                _pending.Enqueue(kind);
            }
        }
    }
}
