using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Orleans.Runtime.Messaging;
using Orleans.TestingHost;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Protocol;
using OrleansBroker.Server;
using OrleansBroker.Testing;

namespace OrleansBroker.ClusterTests.Faults.Workload;

/// <summary>
/// The fault-injecting workload of issue 3: K producers (SDK, idempotence on, one stable producer identity each) × P partitions × N records
/// against an in-process <see cref="TestCluster"/> wired with <see cref="FaultInjection.AddFaultInjection"/>, every send, acknowledgement and
/// failure recorded into a <see cref="History"/>, faults injected from a seeded <see cref="FaultSchedule"/>; then every partition is read back
/// with the SDK's <see cref="Consumer"/> and checked with <see cref="HistoryChecker"/>.
/// </summary>
/// <remarks>
/// <para>Each record value carries its id (<see cref="RecordIdCodec"/>, producer <c>p{k}</c>, a per-producer sequence). A producer sends its
/// records round-robin over the partitions with at most <see cref="FaultWorkloadOptions.InFlightRecordsPerProducer"/> unacknowledged, so
/// every partition has batches in flight (the SDK keeps up to 5 per partition) when a fault strikes.</para>
/// <para>Used by the cluster tests (a reduced, seeded run and one run per fault kind) and by the soak command (tests/OrleansBroker.Soak, which
/// compiles this file and the fault infrastructure it uses).</para>
/// </remarks>
public sealed class FaultWorkload
{
    private readonly FaultClusterFixture _fixture;
    private readonly TestCluster _cluster;
    private readonly FaultController _faults;
    private readonly string _dataDirectory;
    private readonly FaultWorkloadOptions _options;
    private readonly Action<string> _log;
    private readonly FaultSchedule _schedule;
    private readonly History _history;
    private readonly ConcurrentDictionary<FaultKind, int> _injected = new();
    private readonly ConcurrentQueue<string> _notes = new();
    private readonly List<CallFaultRule> _continuousRules = [];
    private readonly Stopwatch _clock = new();
    private readonly string _topic;
    private readonly ProducerSlot[] _slots;
    private readonly List<(long Threshold, TaskCompletionSource Signal)> _progressWaiters = [];
    private readonly Lock _progressSync = new();
    private readonly (long At, TaskCompletionSource Done)[] _barriers;
    private readonly TaskCompletionSource[] _armed;
    private BrokerClient? _broker;
    private long _sent;
    private int _tornTailsTruncated;
    private int _stalledCallsDuplicate;

    /// <summary>Prepares a run (nothing is sent until <see cref="RunAsync"/>).</summary>
    /// <param name="fixture">A started fault cluster (silos and client wired with <see cref="FaultInjection.AddFaultInjection"/>).</param>
    /// <param name="options">The run's shape.</param>
    /// <param name="log">Receives progress lines and the final tables; null for none.</param>
    public FaultWorkload(FaultClusterFixture fixture, FaultWorkloadOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _fixture = fixture;
        _cluster = fixture.Cluster;
        _faults = fixture.Faults;
        _dataDirectory = fixture.DataDirectory;
        _options = options;
        _log = log ?? (_ => { });
        _schedule = FaultSchedule.Create(options);
        _history = new History(options.Duration is null ? (int)Math.Min(options.TotalRecords, int.MaxValue) : 0);
        _topic = string.Create(CultureInfo.InvariantCulture, $"faults-{options.Seed}-{Guid.NewGuid():N}");
        _slots = [.. Enumerable.Range(0, options.Producers).Select(k => new ProducerSlot(k, options.InFlightRecordsPerProducer))];

        // In a count-bounded run, event i must be over before the run passes event i + 1 (the last one: 95% of the run), so every event
        // happens while records flow, however fast the cluster is.
        // Also, the run does not pass event i's own point before the event is armed (its rules are in place).
        IReadOnlyList<FaultEvent> events = _schedule.Events;
        _armed = [.. events.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        _barriers =
        [
            .. events.Select((e, i) => ((long)(e.At * options.TotalRecords) + 1, _armed[i])),
            .. events.Select((e, i) => (
                (long)((i + 1 < events.Count ? events[i + 1].At : 0.95) * options.TotalRecords),
                new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))),
        ];
    }

    /// <summary>The run's topic.</summary>
    public string Topic => _topic;

    /// <summary>The run's fault schedule.</summary>
    public FaultSchedule Schedule => _schedule;

    /// <summary>The history being recorded.</summary>
    public History History => _history;

    private BrokerClient Broker => _broker ??= BrokerClient.FromClusterClient(_cluster.Client, new BrokerClientOptions { RequestTimeout = TimeSpan.FromSeconds(15) });

    /// <summary>Runs the workload: creates the topic, installs the continuous faults, sends while the schedule fires its events, waits for
    /// every outcome, removes the faults, reads every partition back and checks the history.</summary>
    /// <param name="cancellationToken">Stops sending early (the run still settles and checks what was sent).</param>
    /// <returns>The result, with the checker's report.</returns>
    public async Task<FaultWorkloadResult> RunAsync(CancellationToken cancellationToken = default)
    {
        _log($"fault workload: topic {_topic}, {_options.Producers} producers x {_options.Partitions} partitions x "
            + (_options.Duration is { } d ? $"{d.TotalSeconds:0} s" : $"{_options.RecordsPerProducer} records") + $", fault rate {_options.FaultRate}\n{_schedule}");
        await Broker.Admin.CreateTopicAsync(_topic, _options.Partitions, new TopicSettings { MaxMessageBytes = 64 * 1024 }, cancellationToken);
        foreach (ProducerSlot slot in _slots)
        {
            slot.Current = CreateProducer(slot);
        }

        InstallContinuousFaults();
        _clock.Start();
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.Duration is { } duration)
        {
            stopSending.CancelAfter(duration);
        }

        Task[] senders = [.. _slots.Select(slot => Task.Run(() => SendAsync(slot, stopSending.Token), CancellationToken.None))];
        Task events = Task.Run(RunEventsAsync, CancellationToken.None);
        await Task.WhenAll(senders);
        TimeSpan sendingTime = _clock.Elapsed;
        await events;

        // Settle: faults off (gates released, disks freed), then every record must get its outcome.
        RemoveFaults();
        await SettleAsync();
        TimeSpan elapsed = _clock.Elapsed;

        IReadOnlyList<ObservedRecord> observed = await ReadBackAsync();
        CheckReport report = HistoryChecker.Check(_history, observed);
        var result = new FaultWorkloadResult(
            _topic,
            _schedule,
            report,
            _history.SentCount,
            sendingTime,
            elapsed,
            new Dictionary<FaultKind, int>(_injected),
            [.. _notes],
            _tornTailsTruncated,
            _stalledCallsDuplicate);
        _log(result.ToText());
        return result;
    }

    private Producer CreateProducer(ProducerSlot slot) => Broker.CreateProducer(new ProducerOptions
    {
        EnableIdempotence = true,
        ProducerIdentity = string.Create(CultureInfo.InvariantCulture, $"{_topic}-p{slot.Index}"),
        LingerMs = 1,
        BatchSize = _options.BatchSize,
        MaxInFlightPerPartition = ProducerOptions.MaxInFlightWithIdempotence,
        RequestTimeout = _options.RequestTimeout,
        DeliveryTimeout = _options.DeliveryTimeout,
        RetryBackoff = TimeSpan.FromMilliseconds(10),
        RetryBackoffMax = TimeSpan.FromMilliseconds(250),
    });

    // ------------------------------------------------------------------ sending

    private async Task SendAsync(ProducerSlot slot, CancellationToken stop)
    {
        try
        {
            await SendRecordsAsync(slot, stop);
        }
        finally
        {
            slot.SendingFinished.TrySetResult();
        }
    }

    private async Task SendRecordsAsync(ProducerSlot slot, CancellationToken stop)
    {
        long limit = _options.Duration is null ? _options.RecordsPerProducer : long.MaxValue;
        for (long i = 0; i < limit && !stop.IsCancellationRequested; i++)
        {
            try
            {
                await PassBarriersAsync(stop);
                await slot.Window.WaitAsync(stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            int partition = (int)((i + slot.Index) % _options.Partitions);
            string id = RecordIdCodec.FormatId(slot.Name, i);
            byte[] value = RecordIdCodec.Encode(slot.Name, i, Math.Max(_options.RecordBytes, RecordIdCodec.MinimumSize(slot.Name, i)));
            _history.RecordSent(slot.Name, id, _topic, partition);
            Producer producer;
            lock (slot.Sync)
            {
                producer = slot.Current!;
            }

            try
            {
                producer.Produce(new TopicPartition(_topic, partition), new Message { Value = value }, report => OnReport(slot, id, report));
            }
            catch (ProduceException ex)
            {
                // Refused before it was accepted (e.g. the instance was fenced a moment ago): known not to be in the log.
                _history.RecordFailed(id, $"{ex.ErrorCode}: {ex.Message}", ex.PossiblyPersisted);
                slot.Window.Release();
            }

            AdvanceProgress();
        }
    }

    private void OnReport(ProducerSlot slot, string id, DeliveryReport report)
    {
        try
        {
            if (report.Error is null && report.Result is { } result)
            {
                _history.RecordAcknowledged(id, result.Topic, result.Partition, result.Offset, result.IsDuplicate);
            }
            else
            {
                ProduceException error = report.Error ?? new ProduceException("no result and no error");
                _history.RecordFailed(id, $"{error.ErrorCode}: {error.Message}", error.PossiblyPersisted);
            }
        }
        finally
        {
            slot.Window.Release();
        }
    }

    private async Task PassBarriersAsync(CancellationToken stop)
    {
        if (_options.Duration is not null)
        {
            return;
        }

        long sent = Interlocked.Read(ref _sent);
        foreach ((long at, TaskCompletionSource done) in _barriers)
        {
            if (at <= sent && !done.Task.IsCompleted)
            {
                await done.Task.WaitAsync(stop);
            }
        }
    }

    private void AdvanceProgress()
    {
        long sent = Interlocked.Increment(ref _sent);
        lock (_progressSync)
        {
            for (int i = _progressWaiters.Count - 1; i >= 0; i--)
            {
                if (_progressWaiters[i].Threshold <= sent)
                {
                    _progressWaiters[i].Signal.TrySetResult();
                    _progressWaiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Completes when the run reached <paramref name="at"/> (records sent in count mode; time in soak mode), or sending ended.</summary>
    private Task WhenProgressAsync(double at, Task sendingDone)
    {
        if (_options.Duration is { } duration)
        {
            TimeSpan due = duration * at - _clock.Elapsed;
            return due > TimeSpan.Zero ? Task.WhenAny(Task.Delay(due), sendingDone) : Task.CompletedTask;
        }

        long threshold = Math.Max(1, (long)(at * _options.TotalRecords));
        lock (_progressSync)
        {
            if (Interlocked.Read(ref _sent) >= threshold)
            {
                return Task.CompletedTask;
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _progressWaiters.Add((threshold, tcs));
            return Task.WhenAny(tcs.Task, sendingDone);
        }
    }

    // ------------------------------------------------------------------ faults

    private IPartitionGrain Partition(int partition) => _cluster.GrainFactory.GetGrain<IPartitionGrain>(partition, _topic);

    private void InstallContinuousFaults()
    {
        double rate = _options.FaultRate;
        if (rate <= 0)
        {
            return;
        }

        for (int p = 0; p < _options.Partitions; p++)
        {
            IPartitionGrain grain = Partition(p);
            int seed = unchecked((_options.Seed * 7919) + (p * 104_729));
            foreach (FaultKind kind in _schedule.Continuous)
            {
                CallFaultRule? rule = kind switch
                {
                    FaultKind.LostReply => CallFaultRule.OnProduce(grain).LoseReply().WithProbability(rate, seed + 1).Always(),
                    FaultKind.DuplicateDelivery => CallFaultRule.OnProduce(grain).DeliverTwice().WithProbability(rate, seed + 2).Always(),
                    FaultKind.FailBeforeInvoke => CallFaultRule.OnProduce(grain).AtClient()
                        .FailBeforeInvoke(() => new ConnectionFailedException("Injected fault: the connection failed before the request was sent."))
                        .WithProbability(rate, seed + 3).Always(),
                    FaultKind.ReorderDelay => CallFaultRule.OnProduce(grain).AtClient()
                        .Delay(_options.MaxReorderDelay).WithProbability(rate, seed + 4).Always(),
                    _ => null,
                };
                if (rule is not null)
                {
                    _continuousRules.Add(_faults.Add(rule));
                }
            }
        }
    }

    private void RemoveFaults()
    {
        foreach (CallFaultRule rule in _continuousRules)
        {
            FaultKind kind = rule.Kind switch
            {
                CallFaultKind.LoseReply => FaultKind.LostReply,
                CallFaultKind.DeliverTwice => FaultKind.DuplicateDelivery,
                CallFaultKind.FailBeforeInvoke => FaultKind.FailBeforeInvoke,
                _ => FaultKind.ReorderDelay,
            };
            _injected.AddOrUpdate(kind, rule.Applications, (_, n) => n + rule.Applications);
            rule.Dispose();
        }

        _continuousRules.Clear();
        for (int p = 0; p < _options.Partitions; p++)
        {
            _faults.Storage.For(_topic, p).SetDiskFull(false);
        }
    }

    private async Task RunEventsAsync()
    {
        Task sendingDone = SendingDoneAsync();
        for (int i = 0; i < _schedule.Events.Count; i++)
        {
            try
            {
                await RunEventAsync(_schedule.Events[i], _armed[i], sendingDone);
            }
            finally
            {
                _armed[i].TrySetResult();
                _barriers[_schedule.Events.Count + i].Done.TrySetResult();
            }
        }
    }

    private async Task RunEventAsync(FaultEvent e, TaskCompletionSource armed, Task sendingDone)
    {
        await WhenProgressAsync(e.At, sendingDone);
        if (sendingDone.IsCompleted && _options.Duration is null && Interlocked.Read(ref _sent) < e.At * _options.TotalRecords)
        {
            Note($"skipped {e}: sending ended first");
            return;
        }

        long started = _clock.ElapsedMilliseconds;
        try
        {
            await ExecuteAsync(e, armed);
            Note($"{e} done at {Interlocked.Read(ref _sent)} records sent, took {_clock.ElapsedMilliseconds - started} ms");
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or OrleansException or IOException)
        {
            // A fault that could not be set up is reported, not fatal: the checker still judges the run.
            Note($"{e} could not be completed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private Task SendingDoneAsync() => Task.WhenAll(_slots.Select(s => s.SendingFinished.Task));

    private Task ExecuteAsync(FaultEvent e, TaskCompletionSource armed)
    {
        if (e.Kind != FaultKind.StalledCall)
        {
            armed.TrySetResult();
        }

        return e.Kind switch
        {
            FaultKind.Deactivation => DeactivateAsync(e),
            FaultKind.StorageFailBeforeWrite => ArmStorageAsync(e, h => h.FailNextAppendBeforeWrite(e.Count)),
            FaultKind.StorageFailAfterWrite => ArmStorageAsync(e, h => h.FailNextAppendAfterWrite(e.Count)),
            FaultKind.DiskFull => DiskFullAsync(e),
            FaultKind.TornTail => TornTailAsync(e),
            FaultKind.SiloKill => TakeSiloDownAsync(e, kill: true),
            FaultKind.SiloStop => TakeSiloDownAsync(e, kill: false),
            FaultKind.ProducerRestart => RestartProducerAsync(e),
            FaultKind.StalledCall => StallCallAsync(e, armed),
            _ => throw new InvalidOperationException($"{e.Kind} is not a discrete fault."),
        };
    }

    private async Task DeactivateAsync(FaultEvent e)
    {
        await _cluster.ForceDeactivateAsync(Partition(e.Partition));
        Count(FaultKind.Deactivation);
    }

    private Task ArmStorageAsync(FaultEvent e, Action<PartitionStorageFaults> arm)
    {
        arm(_faults.Storage.For(_topic, e.Partition));
        Count(e.Kind, e.Count);
        return Task.CompletedTask;
    }

    private async Task DiskFullAsync(FaultEvent e)
    {
        PartitionStorageFaults hooks = _faults.Storage.For(_topic, e.Partition);
        int failedBefore = hooks.AppendsFailed;
        hooks.SetDiskFull(true, tornBytes: 25);
        Count(FaultKind.DiskFull);
        try
        {
            // Full until that many appends were refused (there are always retries: a refused batch is retried until it lands).
            await Wait.UntilAsync(() => Task.FromResult(hooks.AppendsFailed >= failedBefore + e.Count), TimeSpan.FromSeconds(10), $"{e.Count} appends refused by the full disk of {_topic}-{e.Partition}");
        }
        finally
        {
            hooks.SetDiskFull(false);
        }
    }

    /// <summary>
    /// Deactivates the partition and takes its writer lock itself (retrying while a new activation wins the race), so no grain can open the
    /// log; appends the first half of a valid batch that was never acknowledged to the active segment, as a write cut by a crash leaves it;
    /// releases the lock. The next activation must truncate the torn bytes (checked through the store's recovery report).
    /// </summary>
    private async Task TornTailAsync(FaultEvent e)
    {
        IPartitionGrain grain = Partition(e.Partition);
        PartitionStorageFaults hooks = _faults.Storage.For(_topic, e.Partition);
        string directory = Path.Combine(_dataDirectory, FileLogStoreFactory.TopicsFolderName, string.Create(CultureInfo.InvariantCulture, $"{_topic}-{e.Partition}"));
        var gate = new FaultGate($"torn tail of {_topic}-{e.Partition}");
        using CallFaultRule hold = _faults.Add(CallFaultRule.OnGrain<IPartitionGrain>(null, grain).AtClient().Hold(gate).Always());
        FileStream? writerLock = null;
        try
        {
            for (int attempt = 0; attempt < 10 && writerLock is null; attempt++)
            {
                // The deactivation releases the lock when the partition log is closed, which may finish after DeactivateAsync returned.
                await _cluster.ForceDeactivateAsync(grain);
                try
                {
                    await Wait.UntilAsync(
                        () => Task.FromResult((writerLock = PartitionWriterLock.TryAcquire(directory)) is not null),
                        TimeSpan.FromSeconds(2),
                        $"the writer lock of {_topic}-{e.Partition} to be free",
                        TimeSpan.FromMilliseconds(10));
                }
                catch (TimeoutException)
                {
                    // A queued call reactivated the partition first: deactivate again.
                }
            }

            if (writerLock is null)
            {
                throw new InvalidOperationException($"Could not take the writer lock of {_topic}-{e.Partition}: an activation kept winning it.");
            }

            int opensBefore = hooks.Opens.Count;
            int torn = PartitionWriterLock.AppendTornBatch(directory, "torn-never-acknowledged");
            writerLock.Dispose();
            writerLock = null;
            hold.Dispose();

            // The next call activates the partition; its recovery must cut exactly the torn bytes.
            PartitionOffsets offsets = await Wait.ForAsync(grain.ListOffsetsAsync(), TimeSpan.FromSeconds(20), $"reactivation of {_topic}-{e.Partition} after the torn tail");
            await hooks.WaitForOpenAsync(opensBefore + 1, TimeSpan.FromSeconds(20));
            long truncated = hooks.Opens[opensBefore].Recovery.TruncatedBytes;
            if (truncated == torn && offsets.Error == ErrorCode.None)
            {
                Interlocked.Increment(ref _tornTailsTruncated);
            }
            else
            {
                Note($"torn tail of {_topic}-{e.Partition}: {torn} torn bytes written, recovery truncated {truncated} ({offsets.Error})");
            }

            Count(FaultKind.TornTail);
        }
        finally
        {
            writerLock?.Dispose();
            gate.Release();
        }
    }

    /// <summary>Pins the event's partition on a secondary silo, then kills or stops that silo mid-stream, and starts a fresh one.</summary>
    private async Task TakeSiloDownAsync(FaultEvent e, bool kill)
    {
        SiloHandle victim = PickVictim();
        SiloAddress address = victim.SiloAddress;
        await _cluster.PlaceOnAsync(Partition(e.Partition), address);
        int hosted = Enumerable.Range(0, _options.Partitions).Count(p => address.Equals(_cluster.FindHostingSilo(Partition(p))));
        if (kill)
        {
            int crashed = await _fixture.KillSiloAsync(address);
            Note($"killed silo {address} hosting {hosted} partitions of the topic; crashed {crashed} stores");
        }
        else
        {
            await Wait.ForAsync(_cluster.StopSiloAsync(victim), TimeSpan.FromSeconds(30), $"graceful stop of silo {address}");
            Note($"stopped silo {address} hosting {hosted} partitions of the topic");
        }

        Count(e.Kind);
        while (_cluster.GetActiveSilos().Count() < _options.Silos)
        {
            await Wait.ForAsync(_cluster.StartAdditionalSiloAsync(), TimeSpan.FromSeconds(30), "start of a replacement silo");
        }
    }

    private SiloHandle PickVictim()
    {
        SiloHandle[] secondaries = [.. _cluster.GetActiveSilos().Where(s => !ReferenceEquals(s, _cluster.Primary))];
        if (secondaries.Length == 0)
        {
            throw new InvalidOperationException("No secondary silo to take down.");
        }

        // The one hosting most of the topic's partitions.
        return secondaries
            .OrderByDescending(s => Enumerable.Range(0, _options.Partitions).Count(p => s.SiloAddress.Equals(_cluster.FindHostingSilo(Partition(p)))))
            .First();
    }

    /// <summary>
    /// Holds the next produce call of the partition inside the grain's turn (silo filter) until the same batch (producer id, epoch, base
    /// sequence) leaves the client again, i.e. the SDK timed the call out and resent it, then lets the original run; the resend, queued behind
    /// it in the non-reentrant grain, must be answered as a duplicate.
    /// </summary>
    private async Task StallCallAsync(FaultEvent e, TaskCompletionSource armed)
    {
        IPartitionGrain grain = Partition(e.Partition);
        var gate = new FaultGate($"stalled produce call at {_topic}-{e.Partition}");
        var sends = new ConcurrentQueue<(RecordBatchHeader Header, TimeSpan At)>();
        RecordBatchHeader? held = null;
        var heldOnce = new Lock();

        // A tap on every produce call leaving the client for the partition (its predicate never claims the call).
        using CallFaultRule tap = _faults.Add(CallFaultRule.OnProduce(grain).AtClient().WhereBatch(h =>
        {
            sends.Enqueue((h, _clock.Elapsed));
            return false;
        }));
        using CallFaultRule stall = _faults.Add(CallFaultRule.OnProduce(grain)
            .WhereBatch(h =>
            {
                lock (heldOnce)
                {
                    held ??= h;
                    return held.Value == h;
                }
            })
            .Hold(gate));
        armed.TrySetResult();
        try
        {
            await gate.WaitReachedAsync(TimeSpan.FromSeconds(10));
            RecordBatchHeader h = held!.Value;

            // Held until a produce call for this partition is sent again at least a request timeout after its previous send: the SDK timed a
            // call out while this one was stalled, and resent it. (The SDK resends the oldest unacknowledged batch
            // first, which need not be the stalled one.)
            bool AnyResend()
            {
                var last = new Dictionary<(long, short, int), TimeSpan>();
                foreach ((RecordBatchHeader r, TimeSpan at) in sends)
                {
                    // 90 % of the request timeout: the SDK starts its timeout when it issues the call, this tap sees the call a moment later,
                    // so a timed-out call's resend can be seen a few ms less than the request timeout after it (a resend after a refusal
                    // comes within the 10-250 ms backoff).
                    if (last.TryGetValue((r.ProducerId, r.ProducerEpoch, r.BaseSequence), out TimeSpan previous) && at - previous >= _options.RequestTimeout * 0.9)
                    {
                        return true;
                    }

                    last[(r.ProducerId, r.ProducerEpoch, r.BaseSequence)] = at;
                }

                return false;
            }

            try
            {
                await Wait.UntilAsync(
                    () => Task.FromResult(AnyResend()),
                    (_options.RequestTimeout * 3) + TimeSpan.FromSeconds(5),
                    $"a resend while the batch (producer {h.ProducerId}, epoch {h.ProducerEpoch}, sequence {h.BaseSequence}) is stalled at {_topic}-{e.Partition}");
            }
            catch (TimeoutException ex)
            {
                string history = string.Join(", ", sends.Where(s => s.Header.ProducerId == h.ProducerId).Select(s => string.Create(CultureInfo.InvariantCulture, $"e{s.Header.ProducerEpoch}/s{s.Header.BaseSequence}@{s.At.TotalMilliseconds:0}ms")));
                throw new TimeoutException($"{ex.Message} Sends of producer {h.ProducerId} to the partition since the stall was armed: {history}.", ex);
            }
            Count(FaultKind.StalledCall);
        }
        finally
        {
            gate.Release();
        }

        // The stalled call now runs. Produce calls interleave at the partition, so the resend need not have queued behind it: when the
        // resend wrote the batch first, the stalled call is the one answered as a duplicate (nobody waits for that answer any more).
        await Wait.UntilAsync(
            () => Task.FromResult(stall.Intercepted.Any(c => c.Result is not null || c.Exception is not null)),
            _options.RequestTimeout + TimeSpan.FromSeconds(5),
            $"the answer to the stalled call at {_topic}-{e.Partition}");
        if (stall.Intercepted.Any(c => c.Result is ProduceResult { IsDuplicate: true }))
        {
            Interlocked.Increment(ref _stalledCallsDuplicate);
        }
    }

    /// <summary>A new SDK instance with the same producer identity takes over; the old one keeps its in-flight batches (until fenced).</summary>
    /// <summary>
    /// Replaces the slot's producer with a new instance of the same identity while the old one still has records in flight. Only once
    /// the old instance holds its epoch: a restart replaces a producer that is running. Before that, both instances would race for
    /// their first epoch and the registry may hand the old one the newer epoch, so the new instance is fenced and the old one goes on
    /// writing; correct by Kafka's rules (the last InitProducerId wins), but not a restart, and the checker's send order (old instance
    /// first) would not hold.
    /// </summary>
    private async Task RestartProducerAsync(FaultEvent e)
    {
        ProducerSlot slot = _slots[e.Producer];
        Producer current;
        lock (slot.Sync)
        {
            current = slot.Current!;
        }

        await Wait.UntilAsync(() => Task.FromResult(current.ProducerId >= 0), TimeSpan.FromSeconds(10), $"producer {slot.Name} to obtain its epoch before it is restarted", TimeSpan.FromMilliseconds(1));
        Producer replacement = CreateProducer(slot);
        Producer old;
        lock (slot.Sync)
        {
            old = slot.Current!;
            slot.Retired.Add(old);
            slot.Current = replacement;
        }

        Note($"restarted producer {slot.Name} (epoch {old.ProducerEpoch}): old instance had {old.PendingCount} records pending");
        Count(FaultKind.ProducerRestart);
    }

    private void Count(FaultKind kind, int n = 1) => _injected.AddOrUpdate(kind, n, (_, v) => v + n);

    private void Note(string text)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,7:0.00}s] {text}");
        _notes.Enqueue(line);
        _log(line);
    }

    // ------------------------------------------------------------------ settling and readback

    private async Task SettleAsync()
    {
        // Every record gets an outcome within the delivery timeout (plus the request timeout of a last attempt).
        TimeSpan bound = _options.DeliveryTimeout + _options.RequestTimeout + TimeSpan.FromSeconds(10);
        foreach (ProducerSlot slot in _slots)
        {
            foreach (Producer producer in slot.All)
            {
                try
                {
                    await Wait.ForAsync(producer.FlushAsync(), bound, $"flush of producer {slot.Name}");
                }
                catch (TimeoutException ex)
                {
                    Note(ex.Message);
                }
            }
        }

        foreach (ProducerSlot slot in _slots)
        {
            foreach (Producer producer in slot.All)
            {
                await producer.DisposeAsync();
            }
        }
    }

    /// <summary>Reads every partition from its log start offset to its high watermark with the SDK's consumer.</summary>
    private async Task<IReadOnlyList<ObservedRecord>> ReadBackAsync()
    {
        var observed = new List<ObservedRecord>();
        var watermarks = new Dictionary<int, WatermarkOffsets>();
        await using Consumer consumer = Broker.CreateConsumer(new ConsumerOptions { FetchRetryTimeout = TimeSpan.FromSeconds(60), MaxPartitionFetchBytes = 1 << 20 });
        for (int p = 0; p < _options.Partitions; p++)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    watermarks[p] = await consumer.QueryWatermarkOffsetsAsync(new TopicPartition(_topic, p));
                    break;
                }
                catch (ConsumeException ex) when (ex.IsRetriable && attempt < 20)
                {
                    Note($"listing offsets of {_topic}-{p} for the readback: {ex.ErrorCode}, retrying");
                }
            }
        }

        consumer.Assign([.. watermarks.Where(w => w.Value.HighWatermark > w.Value.LogStartOffset).Select(w => new TopicPartitionOffset(_topic, w.Key, w.Value.LogStartOffset))]);
        long remaining = watermarks.Values.Sum(w => w.HighWatermark - w.LogStartOffset);
        var next = watermarks.ToDictionary(w => w.Key, w => w.Value.LogStartOffset);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        if (remaining > 0)
        {
            await foreach (ConsumeResult r in consumer.ConsumeAsync(timeout.Token))
            {
                if (r.IsPartitionEof || r.Offset >= watermarks[r.Partition].HighWatermark)
                {
                    continue;
                }

                if (r.Offset != next[r.Partition])
                {
                    Note($"readback of {_topic}-{r.Partition}: expected offset {next[r.Partition]}, got {r.Offset}");
                }

                next[r.Partition] = r.Offset + 1;
                observed.Add(new ObservedRecord(r.Topic, r.Partition, r.Offset, r.Value is null ? null : RecordIdCodec.ParseRecordId(r.Value)));
                if (--remaining == 0)
                {
                    break;
                }
            }
        }

        return observed;
    }

    /// <summary>One logical producer: its current SDK instance and the instances it replaced ("restarted" processes).</summary>
    private sealed class ProducerSlot(int index, int window)
    {
        public int Index { get; } = index;

        public string Name { get; } = string.Create(CultureInfo.InvariantCulture, $"p{index}");

        public Producer? Current { get; set; }

        public List<Producer> Retired { get; } = [];

        public Lock Sync { get; } = new();

        public SemaphoreSlim Window { get; } = new(window, window);

        public TaskCompletionSource SendingFinished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IEnumerable<Producer> All
        {
            get
            {
                lock (Sync)
                {
                    return [.. Retired, Current!];
                }
            }
        }
    }
}

/// <summary>What one <see cref="FaultWorkload"/> run did and what the checker found.</summary>
/// <param name="Topic">The run's topic.</param>
/// <param name="Schedule">The fault schedule.</param>
/// <param name="Report">The checker's report.</param>
/// <param name="Records">Records sent.</param>
/// <param name="SendingTime">Time from the first send until the last record was handed to a producer.</param>
/// <param name="Elapsed">Time from the first send until every record had its outcome.</param>
/// <param name="Injected">Faults applied, by kind (for continuous kinds: calls hit; for storage storms: appends armed).</param>
/// <param name="Notes">What the event runner did, in order.</param>
/// <param name="TornTailsTruncated">Torn tails the next activation's recovery cut exactly.</param>
/// <param name="StalledCallsAnsweredAsDuplicate">Stalled calls (<see cref="FaultKind.StalledCall"/>) the partition answered as duplicates: their resend wrote the batch first.</param>
public sealed record FaultWorkloadResult(
    string Topic,
    FaultSchedule Schedule,
    CheckReport Report,
    int Records,
    TimeSpan SendingTime,
    TimeSpan Elapsed,
    IReadOnlyDictionary<FaultKind, int> Injected,
    IReadOnlyList<string> Notes,
    int TornTailsTruncated,
    int StalledCallsAnsweredAsDuplicate)
{
    /// <summary>Records acknowledged or failed per second of the whole run (sending to the last outcome).</summary>
    public double RecordsPerSecond => Elapsed > TimeSpan.Zero ? Records / Elapsed.TotalSeconds : 0;

    /// <summary>How many times <paramref name="kind"/> was injected.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The count (0 when never).</returns>
    public int InjectedCount(FaultKind kind) => Injected.TryGetValue(kind, out int n) ? n : 0;

    /// <summary>The fault table (kind → injected) followed by the checker's table.</summary>
    /// <returns>Text, lines separated by <c>\n</c>.</returns>
    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"topic {Topic}: {Records} records in {Elapsed.TotalSeconds:0.0} s ({RecordsPerSecond:0} records/s; sending took {SendingTime.TotalSeconds:0.0} s)\n");
        text.Append("fault kind             | injected\n");
        text.Append("-----------------------+---------\n");
        foreach (FaultKind kind in FaultKinds.All)
        {
            if (Schedule.Continuous.Contains(kind) || Schedule.Events.Any(e => e.Kind == kind))
            {
                text.Append(CultureInfo.InvariantCulture, $"{kind,-22} | {InjectedCount(kind),8}\n");
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"torn tails truncated   | {TornTailsTruncated,8}\n");
        text.Append(Report.ToTable());
        return text.ToString();
    }
}
