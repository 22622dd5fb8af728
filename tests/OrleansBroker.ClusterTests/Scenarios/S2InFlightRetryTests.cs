using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S2: five batches in flight for one partition, the first fails with a retriable error, the next four are rejected as out of
/// order. SEMANTICS: rule 6 (same epoch must continue at last + 1), SDK rules "at most 5 in flight, order preserved", "OutOfOrderSequence
/// on a batch that is not the oldest in flight: wait for the older ones, retry" and "the sequence is never restamped on retry".
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class S2InFlightRetryTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task Produce_FirstOfFiveInFlightFailsRetriably_AllRetriedOnceInOrderWithoutEpochBump()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s2");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        // The partition must know the producer (sequence 0 stored), otherwise rule 7 would accept the later batches' sequences.
        await ScenarioKit.SendAsync(producer, topic, 0, "w");
        long pid = producer.ProducerId;
        short epoch = producer.ProducerEpoch;

        var gate = new FaultGate($"batch seq 1 inside the turn of {partition.GetGrainId()}");
        using CallFaultRule sent = fixture.Faults.Add(CallFaultRule.OnProduce(partition).AtClient().Always());
        using CallFaultRule fail = fixture.Faults.Add(CallFaultRule.OnProduce(partition)
            .WhereBatch(h => h.BaseSequence == 1)
            .WaitingAt(gate)
            .ReplyWithoutInvoke(() => ProduceResult.Failed(ErrorCode.NotLeaderOrFollower, "Injected: not the leader")));
        using CallFaultRule seen = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());

        string[] values = ["r1", "r2", "r3", "r4", "r5"];
        Task<DeliveryResult>[] sends = [.. values.Select(v => producer.ProduceAsync(new TopicPartition(topic, 0), Message.FromString(v)))];
        await gate.WaitReachedAsync(Wait.Phase);
        await sent.WaitForApplicationsAsync(5, Wait.Phase); // all five left the client while the first one is held
        gate.Release();
        DeliveryResult[] acks = await Wait.ForAsync(Task.WhenAll(sends), Wait.Phase, $"acknowledgements of r1..r5 at {topic}[0]");

        Assert.Equal([1L, 2, 3, 4, 5], acks.Select(a => a.Offset));
        Assert.All(acks, a => Assert.False(a.IsDuplicate));
        Assert.Equal(1, fail.Applications);

        // At the partition: the four later batches were refused out of order (expected 1, nothing written; the partition waited for
        // batch 1, which never came), then each batch was resent once with its original sequence: 1 alone, then 2-5 together (they may
        // reach the grain in any order; the partition appends them in sequence order).
        IReadOnlyList<InterceptedCall> calls = seen.Intercepted;
        Assert.Equal(9, calls.Count);
        Assert.All(calls.Take(4), c =>
        {
            var result = Assert.IsType<ProduceResult>(c.Result);
            Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, result.Error);
            Assert.Equal(1, result.ExpectedSequence);
        });
        Assert.Equal([2, 3, 4, 5], calls.Take(4).Select(c => c.Header!.Value.BaseSequence).Order());
        Assert.Equal(1, calls[4].Header!.Value.BaseSequence);
        Assert.Equal([2, 3, 4, 5], calls.Skip(5).Select(c => c.Header!.Value.BaseSequence).Order());
        Assert.All(calls.Skip(4), c => Assert.Equal((long)c.Header!.Value.BaseSequence, Assert.IsType<ProduceResult>(c.Result).BaseOffset));

        Assert.Equal(epoch, producer.ProducerEpoch);
        Assert.Equal(pid, producer.ProducerId);
        await ScenarioKit.AssertLogAsync(partition, "w", "r1", "r2", "r3", "r4", "r5");
        IReadOnlyList<StoredBatch> stored = await partition.ReadLogAsync();
        Assert.All(stored, b => Assert.Equal((pid, epoch), (b.Header.ProducerId, b.Header.ProducerEpoch)));
        Assert.Equal([0, 1, 2, 3, 4, 5], stored.Select(b => b.Header.BaseSequence));
    }
}
