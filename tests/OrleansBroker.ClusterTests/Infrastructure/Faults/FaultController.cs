using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// The fault plan of one test cluster, shared by the test and the cluster's in-process silos and client: call fault rules
/// (<see cref="Add"/>), storage faults (<see cref="Storage"/>), what the silos observed (<see cref="Journal"/>) and, optionally, the
/// silos' grain clock (<see cref="SiloClock"/>).
/// </summary>
/// <remarks>
/// <para>The TestCluster runs every silo in this process, so the silos reach the controller through a static registry keyed by
/// <see cref="Key"/>, which the fixture puts into the cluster's configuration (<see cref="KeyProperty"/>). One controller per cluster:
/// collections run in parallel, each with its own cluster and controller, so rules never leak across clusters; within a collection
/// tests run one at a time and call <see cref="Reset"/> when done (or dispose their rules).</para>
/// <para>Wire it into any <see cref="TestClusterBuilder"/> with <see cref="FaultInjection.AddFaultInjection"/>; <see cref="FaultClusterFixture"/>
/// does it for the broker's fixture.</para>
/// </remarks>
public sealed class FaultController : IDisposable
{
    /// <summary>The cluster configuration key that carries <see cref="Key"/> to the silos and the client.</summary>
    public const string KeyProperty = "Faults:ControllerKey";

    /// <summary>A <see cref="RequestContext"/> key set on deliveries made by the fault machinery itself, which are never faulted.</summary>
    public const string BypassKey = "obroker-faults-bypass";

    private static readonly ConcurrentDictionary<string, FaultController> Controllers = new(StringComparer.Ordinal);

    private readonly Lock _sync = new();
    private readonly List<CallFaultRule> _rules = [];

    /// <summary>Creates a controller and registers it under a new <see cref="Key"/>.</summary>
    /// <param name="siloClock">When set, every silo of the cluster uses this clock as its default <see cref="TimeProvider"/> (grain timers and
    /// the broker's producer expiry), while Orleans' background areas (membership, messaging, directory) keep the system clock.</param>
    public FaultController(FakeTimeProvider? siloClock = null)
    {
        Key = Guid.NewGuid().ToString("N");
        SiloClock = siloClock;
        Controllers[Key] = this;
    }

    /// <summary>The registry key of this controller.</summary>
    public string Key { get; }

    /// <summary>The silos' grain clock, or null when they use the system clock.</summary>
    public FakeTimeProvider? SiloClock { get; }

    /// <summary>Storage fault hooks and the open-store registry.</summary>
    public StorageFaults Storage { get; } = new();

    /// <summary>What the silo filters observed.</summary>
    public CallJournal Journal { get; } = new();

    /// <summary>Finds the controller registered under <paramref name="key"/>.</summary>
    /// <param name="key">The key from the cluster configuration.</param>
    /// <returns>The controller.</returns>
    /// <exception cref="InvalidOperationException">No controller has that key (the fixture did not create one, or it was disposed).</exception>
    public static FaultController Get(string? key) =>
        key is not null && Controllers.TryGetValue(key, out FaultController? controller)
            ? controller
            : throw new InvalidOperationException($"No fault controller is registered under '{key}'; build the cluster with FaultInjection.AddFaultInjection.");

    /// <summary>Registers a rule; it acts on calls from now on, until disposed or <see cref="Reset"/>.</summary>
    /// <param name="rule">The rule, fully configured.</param>
    /// <returns>The same rule, for <c>using</c>.</returns>
    public CallFaultRule Add(CallFaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        rule.AttachTo(this);
        lock (_sync)
        {
            _rules.Add(rule);
        }

        return rule;
    }

    /// <summary>Removes every rule (releasing their gates), clears pending storage faults and the outgoing-call journal.</summary>
    public void Reset()
    {
        CallFaultRule[] rules;
        lock (_sync)
        {
            rules = [.. _rules];
            _rules.Clear();
        }

        foreach (CallFaultRule rule in rules)
        {
            rule.Dispose();
        }

        Storage.Reset();
        Journal.Clear();
    }

    /// <summary>Resets and unregisters the controller.</summary>
    public void Dispose()
    {
        Reset();
        Controllers.TryRemove(Key, out _);
    }

    internal void Remove(CallFaultRule rule)
    {
        lock (_sync)
        {
            _rules.Remove(rule);
        }
    }

    /// <summary>The first registered rule that claims this call, or null.</summary>
    internal CallFaultRule? Claim(FaultSite site, GrainId target, Type? interfaceType, string? methodName, object? firstArgument, out RecordBatchHeader? header)
    {
        CallFaultRule[] rules;
        lock (_sync)
        {
            rules = [.. _rules];
        }

        header = null;
        foreach (CallFaultRule rule in rules)
        {
            if (rule.TryClaim(site, target, interfaceType, methodName, firstArgument, out header))
            {
                return rule;
            }
        }

        return null;
    }
}
