using Orleans.Runtime.Placement;
using Orleans.TestingHost;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// A partition activation cancelled while its log is opening (here: its silo is stopped gracefully mid-open). Orleans stops awaiting
/// <c>OnActivateAsync</c> when the activation's token is cancelled, so the open finishes unobserved; the grain must still close that log,
/// or its writer lock keeps every later activation of the partition out with NotLeaderOrFollower until the process ends (seen as a
/// 3-minute hang of the graceful-stop fault workload).
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class ActivationCancelledTests(SiloKillClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task OnActivateAsync_SiloStoppedWhileLogOpens_LogClosedAndPartitionServedElsewhere()
    {
        await fixture.EnsureSilosAsync();
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "cancelled-open");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        SiloAddress victim = fixture.AnySecondarySilo();
        PartitionStorageFaults hooks = fixture.Faults.Storage.For(topic, 0);
        var opening = new FaultGate($"first open of {topic}-0");
        hooks.HoldNextOpen(opening);

        // The first activation, placed on the victim, takes the writer lock and is held inside its open.
        Task<PartitionOffsets> first;
        RequestContext.Set(IPlacementDirector.PlacementHintKey, victim);
        try
        {
            first = partition.ListOffsetsAsync();
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }

        await opening.WaitReachedAsync(Wait.Phase);
        Assert.Equal(victim, Assert.Single(hooks.Opens).Silo);

        // A graceful stop cancels the activation; only then does the open finish.
        SiloHandle handle = fixture.Cluster.GetSiloForAddress(victim) ?? throw new InvalidOperationException($"Silo {victim} is gone.");
        await Wait.ForAsync(fixture.Cluster.StopSiloAsync(handle), TimeSpan.FromSeconds(30), $"graceful stop of silo {victim}");
        opening.Release();
        await Wait.UntilAsync(
            () => Task.FromResult(fixture.Faults.Storage.OpenStoreCount(victim, topic, 0) == 0),
            Wait.Phase,
            $"the cancelled activation on {victim} to close the log of {topic}-0",
            TimeSpan.FromMilliseconds(10));
        await Task.WhenAny(first);

        // The partition opens on a live silo (one NotLeaderOrFollower at most, from an activation that raced the close).
        PartitionOffsets offsets = await Wait.ForAsync(partition.ListOffsetsAsync(), Wait.Phase, $"list offsets of {topic}-0 after the stop");
        if (offsets.Error == ErrorCode.NotLeaderOrFollower)
        {
            offsets = await Wait.ForAsync(partition.ListOffsetsAsync(), Wait.Phase, $"list offsets of {topic}-0 after the stop (again)");
        }

        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 0, 0), offsets);
        Assert.NotEqual(victim, hooks.Opens[^1].Silo);
    }
}
