using System.Collections.Concurrent;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>A grain call made by code running in a silo, as the silo's outgoing call filter saw it.</summary>
/// <param name="Silo">The silo it was made on.</param>
/// <param name="Source">The calling grain, when the call came from a grain.</param>
/// <param name="DuringTurnOf">The incoming call whose turn made it ("<c>IPartitionGrain.ProduceAsync</c>"), or null when it was made outside
/// any intercepted call (activation, timers, background work).</param>
/// <param name="DuringTurnOfGrain">The grain of that incoming call.</param>
/// <param name="Target">The called grain.</param>
/// <param name="InterfaceType">The called grain interface.</param>
/// <param name="Method">The called method.</param>
public sealed record OutgoingCall(SiloAddress Silo, GrainId? Source, string? DuringTurnOf, GrainId? DuringTurnOfGrain, GrainId Target, Type? InterfaceType, string? Method);

/// <summary>
/// What the fault filters observed in the silos of one cluster: on which silo each grain last handled a call, and every grain call made
/// by silo code, attributed to the incoming call in whose turn it was made (SCENARIOS S7: the produce path calls no other grain).
/// </summary>
public sealed class CallJournal
{
    private static readonly AsyncLocal<Turn?> CurrentTurn = new();

    private readonly ConcurrentDictionary<GrainId, SiloAddress> _lastSilo = new();
    private readonly ConcurrentQueue<OutgoingCall> _outgoing = new();

    /// <summary>Every outgoing grain call made in a silo since the cluster started (or <see cref="Clear"/>), in order.</summary>
    public IReadOnlyList<OutgoingCall> OutgoingCalls => [.. _outgoing];

    /// <summary>The silo on which <paramref name="grain"/> last handled an incoming call, or null if it never did.</summary>
    /// <param name="grain">The grain.</param>
    /// <returns>The silo address.</returns>
    public SiloAddress? LastSiloOf(GrainId grain) => _lastSilo.TryGetValue(grain, out SiloAddress? silo) ? silo : null;

    /// <summary>Outgoing calls made during turns of <paramref name="grain"/>'s <paramref name="method"/> (e.g. <c>ProduceAsync</c>).</summary>
    /// <param name="grain">The grain whose turns are of interest.</param>
    /// <param name="method">The incoming method, C# name.</param>
    /// <returns>The calls.</returns>
    public IReadOnlyList<OutgoingCall> CallsDuring(GrainId grain, string method) =>
        [.. _outgoing.Where(c => c.DuringTurnOfGrain is { } g && g.Equals(grain) && c.DuringTurnOf is { } m && m.EndsWith("." + method, StringComparison.Ordinal))];

    /// <summary>Outgoing calls whose source is <paramref name="grain"/>, whatever the turn.</summary>
    /// <param name="grain">The calling grain.</param>
    /// <returns>The calls.</returns>
    public IReadOnlyList<OutgoingCall> CallsFrom(GrainId grain) => [.. _outgoing.Where(c => c.Source is { } s && s.Equals(grain))];

    /// <summary>Forgets the outgoing calls (the last-silo map is kept: it describes where activations live).</summary>
    public void Clear() => _outgoing.Clear();

    internal static IDisposable EnterTurn(GrainId grain, Type? interfaceType, string? method)
    {
        Turn? previous = CurrentTurn.Value;
        CurrentTurn.Value = new Turn(grain, $"{interfaceType?.Name}.{method}");
        return new TurnScope(previous);
    }

    /// <summary>Detaches the current flow from any turn (for work a filter starts on the side, such as a duplicate delivery).</summary>
    internal static void LeaveTurn() => CurrentTurn.Value = null;

    internal void RecordIncoming(GrainId grain, SiloAddress silo) => _lastSilo[grain] = silo;

    internal void RecordOutgoing(SiloAddress silo, GrainId? source, GrainId target, Type? interfaceType, string? method)
    {
        Turn? turn = CurrentTurn.Value;
        _outgoing.Enqueue(new OutgoingCall(silo, source, turn?.Method, turn?.Grain, target, interfaceType, method));
    }

    private sealed record Turn(GrainId Grain, string Method);

    private sealed class TurnScope(Turn? previous) : IDisposable
    {
        public void Dispose() => CurrentTurn.Value = previous;
    }
}
