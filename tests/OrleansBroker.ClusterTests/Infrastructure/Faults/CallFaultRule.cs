using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>Where a <see cref="CallFaultRule"/> acts.</summary>
public enum FaultSite
{
    /// <summary>In the silo, as an incoming grain call filter running inside the target grain's turn (default).</summary>
    Silo,

    /// <summary>In the test cluster's client, as an outgoing grain call filter, before the message leaves the client.</summary>
    Client,
}

/// <summary>What a <see cref="CallFaultRule"/> does to a call it claims.</summary>
public enum CallFaultKind
{
    /// <summary>Nothing (a rule without an action only counts matching calls).</summary>
    Observe,

    /// <summary>The call runs (<c>context.Invoke()</c>), then the caller gets an exception instead of the reply: outcome unknown.</summary>
    LoseReply,

    /// <summary>The caller gets an exception and the call never runs.</summary>
    FailBeforeInvoke,

    /// <summary>The caller gets a result chosen by the test and the call never runs (e.g. a retriable broker error code).</summary>
    ReplyWithoutInvoke,

    /// <summary>The call waits at a <see cref="FaultGate"/> (before or after running) until the test releases it.</summary>
    Hold,

    /// <summary>The call waits for a fixed time (on a <see cref="TimeProvider"/>) before or after running.</summary>
    Delay,

    /// <summary>The call runs, and the same request (same argument bytes) is delivered to the grain a second time (silo only, produce only).</summary>
    DeliverTwice,
}

/// <summary>When a <see cref="CallFaultKind.Hold"/> or <see cref="CallFaultKind.Delay"/> waits.</summary>
public enum FaultPoint
{
    /// <summary>Before the call runs (at the silo: inside the grain's turn; a partition grain lets later produce calls interleave meanwhile).</summary>
    BeforeInvoke,

    /// <summary>After the call ran, before its reply leaves.</summary>
    AfterInvoke,
}

/// <summary>One intercepted call's outcome as the filter saw it (for assertions such as "the append behind the lost reply did run").</summary>
/// <param name="Header">The record batch header of the call's first argument, when it was a record batch.</param>
/// <param name="Invoked">True when the grain method ran.</param>
/// <param name="Result">The grain's result when it ran and returned; else null.</param>
/// <param name="Exception">The grain's own exception when it ran and threw; else null.</param>
public sealed record InterceptedCall(RecordBatchHeader? Header, bool Invoked, object? Result, Exception? Exception);

/// <summary>
/// A fault applied to grain calls that match: which calls (grain interface, method, target grain, record batch header), which of them
/// (skip the first N matches, apply K times, always, or with a seeded probability), where (<see cref="FaultSite"/>) and what
/// (<see cref="CallFaultKind"/>). Register it with <see cref="FaultController.Add"/>; dispose it to remove it.
/// </summary>
/// <remarks>
/// <para>Build with the fluent methods, then register, e.g.
/// <c>using CallFaultRule rule = faults.Add(CallFaultRule.OnProduce(partition).WhereBatch(h => h.BaseSequence == 1).LoseReply());</c>.
/// Configure before <see cref="FaultController.Add"/>; a registered rule is only read.</para>
/// <para>What the caller sees (measured on Orleans 10.4.2, see the scenario tests): an exception thrown by a silo filter reaches the
/// client as the same exception type (<see cref="TimeoutException"/> stays a <see cref="TimeoutException"/>), which the SDK classifies
/// as outcome unknown and resends with the same bytes. Exceptions thrown in the client filter surface directly.</para>
/// <para>Determinism: <see cref="WithProbability"/> draws from one seeded <see cref="Random"/> per rule, in the order calls reach the
/// filter. That order is fixed for one producer and one partition (calls to a non-reentrant grain are ordered), not across partitions
/// or producers: a seeded workload that needs a reproducible fault sequence should select by batch header (<see cref="WhereBatch"/>),
/// which does not depend on arrival order.</para>
/// </remarks>
public sealed class CallFaultRule : IDisposable
{
    private readonly Lock _sync = new();
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private readonly List<InterceptedCall> _intercepted = [];
    private readonly List<Task<ProduceResult>> _duplicates = [];
    private Func<RecordBatchHeader, bool>? _batchPredicate;
    private int _skip;
    private int _times = 1;
    private Random? _random;
    private double _probability = 1;
    private int _matches;
    private int _applications;
    private FaultController? _owner;

    private CallFaultRule(Type interfaceType, string? methodName, GrainId? target)
    {
        InterfaceType = interfaceType;
        MethodName = methodName;
        Target = target;
    }

    /// <summary>The grain interface the rule matches.</summary>
    public Type InterfaceType { get; }

    /// <summary>The method the rule matches (C# name, e.g. <c>ProduceAsync</c>), or null for every method.</summary>
    public string? MethodName { get; }

    /// <summary>The one grain the rule matches, or null for every grain of <see cref="InterfaceType"/>.</summary>
    public GrainId? Target { get; }

    /// <summary>Where the rule acts.</summary>
    public FaultSite Site { get; private set; } = FaultSite.Silo;

    /// <summary>What the rule does.</summary>
    public CallFaultKind Kind { get; private set; } = CallFaultKind.Observe;

    /// <summary>The gate of a <see cref="CallFaultKind.Hold"/>.</summary>
    public FaultGate? Gate { get; private set; }

    /// <summary>A gate every claimed call waits at before the action applies (see <see cref="WaitingAt"/>), or null.</summary>
    public FaultGate? EntryGate { get; private set; }

    /// <summary>The delay of a <see cref="CallFaultKind.Delay"/>.</summary>
    public TimeSpan DelayDuration { get; private set; }

    /// <summary>The clock of a <see cref="CallFaultKind.Delay"/>.</summary>
    public TimeProvider DelayClock { get; private set; } = TimeProvider.System;

    /// <summary>When a hold or delay waits.</summary>
    public FaultPoint Point { get; private set; } = FaultPoint.BeforeInvoke;

    /// <summary>Builds the exception of <see cref="CallFaultKind.LoseReply"/> and <see cref="CallFaultKind.FailBeforeInvoke"/>.</summary>
    public Func<Exception>? ExceptionFactory { get; private set; }

    /// <summary>Builds the result of <see cref="CallFaultKind.ReplyWithoutInvoke"/>.</summary>
    public Func<object?>? ResultFactory { get; private set; }

    /// <summary>Calls that matched interface, method, target and batch predicate (also those skipped or beyond <see cref="Times"/>).</summary>
    public int Matches
    {
        get
        {
            lock (_sync)
            {
                return _matches;
            }
        }
    }

    /// <summary>Calls the fault was applied to.</summary>
    public int Applications
    {
        get
        {
            lock (_sync)
            {
                return _applications;
            }
        }
    }

    /// <summary>Each call the fault was applied to, with what the filter saw, in order.</summary>
    public IReadOnlyList<InterceptedCall> Intercepted
    {
        get
        {
            lock (_sync)
            {
                return [.. _intercepted];
            }
        }
    }

    /// <summary>The second deliveries made by <see cref="CallFaultKind.DeliverTwice"/>, in order; await them for their results.</summary>
    public IReadOnlyList<Task<ProduceResult>> Duplicates
    {
        get
        {
            lock (_sync)
            {
                return [.. _duplicates];
            }
        }
    }

    /// <summary>A rule on <see cref="IPartitionGrain.ProduceAsync"/> of one partition.</summary>
    /// <param name="partition">The partition grain.</param>
    /// <returns>The rule (no action yet).</returns>
    public static CallFaultRule OnProduce(IPartitionGrain partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        return new CallFaultRule(typeof(IPartitionGrain), nameof(IPartitionGrain.ProduceAsync), partition.GetGrainId());
    }

    /// <summary>A rule on calls to grains of interface <typeparamref name="TGrain"/>.</summary>
    /// <typeparam name="TGrain">The grain interface.</typeparam>
    /// <param name="methodName">The C# method name (use <c>nameof</c>), or null for every method.</param>
    /// <param name="target">One grain, or null for every grain of the interface.</param>
    /// <returns>The rule (no action yet).</returns>
    public static CallFaultRule OnGrain<TGrain>(string? methodName = null, IAddressable? target = null)
        where TGrain : IAddressable =>
        new(typeof(TGrain), methodName, target?.GetGrainId());

    /// <summary>Acts in the client (outgoing filter) instead of the silo: the call is held or failed before it leaves the client.</summary>
    /// <returns>This rule.</returns>
    public CallFaultRule AtClient()
    {
        Site = FaultSite.Client;
        return this;
    }

    /// <summary>Matches only calls whose first argument is a record batch whose header satisfies <paramref name="predicate"/>.</summary>
    /// <param name="predicate">E.g. <c>h =&gt; h.BaseSequence == 1 &amp;&amp; h.ProducerEpoch == 0</c>.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule WhereBatch(Func<RecordBatchHeader, bool> predicate)
    {
        _batchPredicate = predicate;
        return this;
    }

    /// <summary>Lets the first <paramref name="matches"/> matching calls through untouched.</summary>
    /// <param name="matches">Matches to skip.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule Skip(int matches)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(matches);
        _skip = matches;
        return this;
    }

    /// <summary>Applies the fault to at most <paramref name="applications"/> calls (default 1).</summary>
    /// <param name="applications">At least 1.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule Times(int applications)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(applications, 1);
        _times = applications;
        return this;
    }

    /// <summary>Applies the fault to every matching call.</summary>
    /// <returns>This rule.</returns>
    public CallFaultRule Always()
    {
        _times = int.MaxValue;
        return this;
    }

    /// <summary>Applies the fault to each matching call with probability <paramref name="probability"/>, drawn from <c>new Random(seed)</c>.
    /// Combine with <see cref="Always"/> or <see cref="Times"/> to bound how many calls are hit.</summary>
    /// <param name="probability">In (0, 1].</param>
    /// <param name="seed">The seed (log it with the workload so a failure can be replayed).</param>
    /// <returns>This rule.</returns>
    public CallFaultRule WithProbability(double probability, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(probability, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(probability, 1);
        _probability = probability;
        _random = new Random(seed);
        return this;
    }

    /// <summary>
    /// Every claimed call first waits at <paramref name="gate"/>, then the action applies (e.g. hold the first of five in-flight batches
    /// inside the partition's turn, while the other four reach the partition and wait for it, then fail it).
    /// </summary>
    /// <param name="gate">The gate.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule WaitingAt(FaultGate gate)
    {
        EntryGate = gate;
        return this;
    }

    /// <summary>The call runs, then the caller gets <paramref name="exception"/> (default: a <see cref="TimeoutException"/> naming the call).</summary>
    /// <param name="exception">Builds the exception, or null for the default.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule LoseReply(Func<Exception>? exception = null)
    {
        Kind = CallFaultKind.LoseReply;
        ExceptionFactory = exception;
        return this;
    }

    /// <summary>The call does not run; the caller gets <paramref name="exception"/>.</summary>
    /// <param name="exception">Builds the exception.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule FailBeforeInvoke(Func<Exception> exception)
    {
        Kind = CallFaultKind.FailBeforeInvoke;
        ExceptionFactory = exception;
        return this;
    }

    /// <summary>The call does not run; the caller gets <paramref name="result"/> as the grain's answer.</summary>
    /// <param name="result">Builds the result; its type must be the method's result type (e.g. <see cref="ProduceResult"/>).</param>
    /// <returns>This rule.</returns>
    public CallFaultRule ReplyWithoutInvoke(Func<object?> result)
    {
        Kind = CallFaultKind.ReplyWithoutInvoke;
        ResultFactory = result;
        return this;
    }

    /// <summary>The call waits at <paramref name="gate"/> until the test releases it.</summary>
    /// <param name="gate">The gate.</param>
    /// <param name="point">Before (default) or after the call runs.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule Hold(FaultGate gate, FaultPoint point = FaultPoint.BeforeInvoke)
    {
        Kind = CallFaultKind.Hold;
        Gate = gate;
        Point = point;
        return this;
    }

    /// <summary>The call waits <paramref name="delay"/> on <paramref name="clock"/> (default the system clock) before or after running.</summary>
    /// <param name="delay">How long.</param>
    /// <param name="point">Before (default) or after the call runs.</param>
    /// <param name="clock">The clock; a fake clock makes the wait controllable.</param>
    /// <returns>This rule.</returns>
    public CallFaultRule Delay(TimeSpan delay, FaultPoint point = FaultPoint.BeforeInvoke, TimeProvider? clock = null)
    {
        Kind = CallFaultKind.Delay;
        DelayDuration = delay;
        DelayClock = clock ?? TimeProvider.System;
        Point = point;
        return this;
    }

    /// <summary>
    /// The call runs and its reply goes back; then the same request (a copy of the batch bytes taken before the call ran) is delivered
    /// to the grain again through the grain factory, as a network duplicate would arrive. Silo site, <see cref="IPartitionGrain.ProduceAsync"/> only.
    /// </summary>
    /// <remarks>The filter sends the duplicate only after the original ran, so it always runs after the original; to have a duplicate
    /// arrive first, send the same bytes directly before the call instead.</remarks>
    /// <returns>This rule.</returns>
    public CallFaultRule DeliverTwice()
    {
        if (InterfaceType != typeof(IPartitionGrain) || MethodName != nameof(IPartitionGrain.ProduceAsync))
        {
            throw new InvalidOperationException("DeliverTwice supports IPartitionGrain.ProduceAsync only.");
        }

        Kind = CallFaultKind.DeliverTwice;
        return this;
    }

    /// <summary>Waits until the fault was applied <paramref name="count"/> times.</summary>
    /// <param name="count">Applications expected.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <returns>A task that completes when it was.</returns>
    /// <exception cref="TimeoutException">Fewer applications in time; the message names the rule.</exception>
    public Task WaitForApplicationsAsync(int count, TimeSpan timeout)
    {
        Task signal;
        lock (_sync)
        {
            if (_applications >= count)
            {
                return Task.CompletedTask;
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, tcs));
            signal = tcs.Task;
        }

        return Wait.ForAsync(signal, timeout, $"{count} application(s) of {this} (applied {Applications}, matched {Matches})");
    }

    /// <summary>Removes the rule from its controller and releases its gate.</summary>
    public void Dispose()
    {
        Gate?.Release();
        EntryGate?.Release();
        _owner?.Remove(this);
        _owner = null;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Kind} rule on {InterfaceType.Name}.{MethodName ?? "*"}{(Target is { } t ? " of " + t : string.Empty)} at the {Site.ToString().ToLowerInvariant()}";

    internal void AttachTo(FaultController owner)
    {
        if (_owner is not null)
        {
            throw new InvalidOperationException($"{this} is already registered.");
        }

        _owner = owner;
    }

    /// <summary>Decides whether this call gets the fault; counts matches and applications.</summary>
    internal bool TryClaim(FaultSite site, GrainId target, Type? interfaceType, string? methodName, object? firstArgument, out RecordBatchHeader? header)
    {
        header = SiloFaultFilter.BatchOf(firstArgument) is { } bytes && RecordBatchHeader.TryRead(bytes.Span, out RecordBatchHeader h) ? h : null;
        if (site != Site
            || interfaceType is null
            || !InterfaceType.IsAssignableFrom(interfaceType)
            || (MethodName is not null && !string.Equals(MethodName, methodName, StringComparison.Ordinal))
            || (Target is { } t && !t.Equals(target)))
        {
            return false;
        }

        if (_batchPredicate is not null && (header is not { } parsed || !_batchPredicate(parsed)))
        {
            return false;
        }

        lock (_sync)
        {
            _matches++;
            if (_matches <= _skip || _applications >= _times)
            {
                return false;
            }

            if (_random is not null && _random.NextDouble() >= _probability)
            {
                return false;
            }

            _applications++;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _applications)
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }

            return true;
        }
    }

    internal void Record(InterceptedCall call)
    {
        lock (_sync)
        {
            _intercepted.Add(call);
        }
    }

    internal void AddDuplicate(Task<ProduceResult> duplicate)
    {
        lock (_sync)
        {
            _duplicates.Add(duplicate);
        }
    }

    internal Exception CreateException(GrainId target, string? methodName) =>
        ExceptionFactory?.Invoke()
        ?? new TimeoutException($"Injected fault: the reply of {methodName} on {target} was lost after the call ran ({Kind}).");
}
