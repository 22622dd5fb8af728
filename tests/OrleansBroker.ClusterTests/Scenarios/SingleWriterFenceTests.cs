using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Log;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SEMANTICS "Beyond Kafka": a partition can never have two writers; a second activation is fenced by storage (the file lock). What a
/// silo that died without releasing its lock (hung, partitioned) looks like to the partition, and that releasing the lock, as process
/// death does, lets the partition recover with its dedup state.
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class SingleWriterFenceTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task ProduceAsync_LogLockedByAnotherWriter_NotLeaderOrFollowerUntilLockReleasedThenDuplicate()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "fence");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult pid = await ScenarioKit.NewProducerIdAsync(fixture);
        byte[] batch = ScenarioKit.Batch(pid.ProducerId, 0, 0, "a");
        Assert.Equal(0, (await partition.ProduceAsync(batch.ToArray())).BaseOffset);
        await fixture.Cluster.ForceDeactivateAsync(partition);

        // Another writer (a stuck process that never released the partition) holds the lock.
        string directory = Path.Combine(fixture.DataDirectory, "topics", topic + "-0");
        var other = new FileLogStore(directory, new PartitionLogOptions(), TimeProvider.System);
        await other.OpenAsync();
        var answers = new List<ErrorCode>();
        try
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                answers.Add((await Wait.ForAsync(partition.ProduceAsync(batch.ToArray()), Wait.Phase, $"produce #{attempt + 1} to fenced {partition.GetGrainId()}")).Error);
            }
        }
        finally
        {
            await other.DisposeAsync();
        }

        // The fenced activation answers and deactivates; the next call opens afresh (at most one more NotLeaderOrFollower in between).
        ProduceResult resent = await partition.ProduceAsync(batch.ToArray());
        if (resent.Error == ErrorCode.NotLeaderOrFollower)
        {
            resent = await partition.ProduceAsync(batch.ToArray());
        }

        Assert.Equal([ErrorCode.NotLeaderOrFollower, ErrorCode.NotLeaderOrFollower, ErrorCode.NotLeaderOrFollower], answers);
        Assert.Equal(new ProduceResult(ErrorCode.None, 0, ScenarioKit.Timestamp, 0, true, -1, -1, null), resent);
        await ScenarioKit.AssertLogAsync(partition, "a");
    }
}
