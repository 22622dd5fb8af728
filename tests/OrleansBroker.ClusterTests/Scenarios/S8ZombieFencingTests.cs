using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S8: a producer restarts and re-initialises while its previous incarnation still has a batch in flight; the old batch is
/// fenced once the new incarnation bumped the epoch. SEMANTICS: rule 3 (an epoch lower than the producer's current one: InvalidProducerEpoch,
/// nothing written), "Beyond Kafka: a stable producer identity ... keeps its PID (epoch bumped)", SDK: "InvalidProducerEpoch means another
/// incarnation fenced this one".
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class S8ZombieFencingTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task Produce_OldIncarnationBatchArrivesAfterRestart_FencedAndLogHoldsNoOldEpochBatchAfterFence()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s8");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        const string identity = "svc-1";
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer a = client.CreateProducer(ScenarioKit.ProducerOptions(identity));
        await ScenarioKit.SendAsync(a, topic, 0, "a1");
        long pid = a.ProducerId;
        short oldEpoch = a.ProducerEpoch;

        // A's next batch is in flight: it left A but is held in the network (the client) until B has taken over.
        var inFlight = new FaultGate($"A's batch (epoch {oldEpoch}, seq 1) on its way to {partition.GetGrainId()}");
        using CallFaultRule hold = fixture.Faults.Add(CallFaultRule.OnProduce(partition).AtClient()
            .WhereBatch(h => h.ProducerEpoch == oldEpoch && h.BaseSequence == 1)
            .Hold(inFlight));
        using CallFaultRule seen = fixture.Faults.Add(CallFaultRule.OnProduce(partition).WhereBatch(h => h.ProducerEpoch == oldEpoch).Always());
        Task<DeliveryResult> zombieSend = a.ProduceAsync(new TopicPartition(topic, 0), Message.FromString("a2"));
        await inFlight.WaitReachedAsync(Wait.Phase);

        await using Producer b = client.CreateProducer(ScenarioKit.ProducerOptions(identity));
        DeliveryResult b1 = await ScenarioKit.SendAsync(b, topic, 0, "b1");
        inFlight.Release();
        ProducerFencedException fenced = await Assert.ThrowsAsync<ProducerFencedException>(
            () => Wait.ForAsync(zombieSend, Wait.Phase, $"A's held batch to reach {partition.GetGrainId()} after B's epoch bump"));
        DeliveryResult b2 = await ScenarioKit.SendAsync(b, topic, 0, "b2");

        Assert.Equal(pid, b.ProducerId);
        Assert.Equal(oldEpoch + 1, b.ProducerEpoch);
        Assert.Equal(1, b1.Offset);
        Assert.Equal(2, b2.Offset);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, fenced.ErrorCode);
        Assert.True(fenced.IsFatal);
        ProduceResult answer = Assert.IsType<ProduceResult>(Assert.Single(seen.Intercepted).Result);
        Assert.Equal((ErrorCode.InvalidProducerEpoch, (short)(oldEpoch + 1)), (answer.Error, answer.CurrentEpoch));
        await Assert.ThrowsAsync<ProducerFencedException>(() => a.ProduceAsync(new TopicPartition(topic, 0), Message.FromString("a3")));

        await ScenarioKit.AssertLogAsync(partition, "a1", "b1", "b2");
        IReadOnlyList<StoredBatch> stored = await partition.ReadLogAsync();
        long fence = stored.First(s => s.Header.ProducerEpoch > oldEpoch).Header.BaseOffset;
        Assert.Equal(1, fence);
        Assert.DoesNotContain(stored, s => s.Header.BaseOffset >= fence && s.Header.ProducerEpoch <= oldEpoch);
        Assert.All(stored, s => Assert.Equal(pid, s.Header.ProducerId));
    }
}
