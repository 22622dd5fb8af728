using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S4: a producer idle longer than the producer-id expiration has its state dropped; its next batch (sequence 7) is accepted,
/// with no error loop. SEMANTICS: "Idle producers expire after ProducerIdExpiration", rule 7 (no state: any sequence accepted, KIP-360).
/// The silos' grain clock is fake: advancing it fires the partition's expiry timer (BrokerOptions.ProducerExpirationCheckInterval)
/// without waiting in real time.
/// </summary>
[Collection(FakeClockClusterCollection.Name)]
public sealed class S4ProducerExpiryTests(FakeClockClusterFixture fixture) : IDisposable
{
    private static readonly TimeSpan Idle = FakeClockClusterFixture.ProducerIdExpiration + FakeClockClusterFixture.ExpirationCheckInterval + TimeSpan.FromSeconds(1);

    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task ProduceAsync_ProducerIdleLongerThanExpiration_StateDroppedAndSequenceSevenAccepted()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s4-grain");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult a = await ScenarioKit.NewProducerIdAsync(fixture);
        InitProducerIdResult probe = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(0, (await partition.ProduceAsync(ScenarioKit.Batch(a.ProducerId, 0, 0, "a0", "a1", "a2", "a3", "a4", "a5", "a6"))).BaseOffset);
        Assert.Equal(7, (await partition.ProduceAsync(ScenarioKit.Batch(probe.ProducerId, 0, 0, "p0"))).BaseOffset);

        // Before expiry the state is there: a gap is refused, expecting 7.
        ProduceResult gapBefore = await partition.ProduceAsync(ScenarioKit.Batch(a.ProducerId, 0, 9, "gap"));
        Assert.Equal((ErrorCode.OutOfOrderSequenceNumber, 7), (gapBefore.Error, gapBefore.ExpectedSequence));

        fixture.SiloClock.Advance(Idle);
        await WaitForExpiryAsync(partition, probe.ProducerId, expectedOffset: 8);
        ProduceResult next = await partition.ProduceAsync(ScenarioKit.Batch(a.ProducerId, 0, 7, "a7"));
        ProduceResult after = await partition.ProduceAsync(ScenarioKit.Batch(a.ProducerId, 0, 8, "a8"));

        Assert.Equal(new ProduceResult(ErrorCode.None, 9, ScenarioKit.Timestamp, 0, false, -1, -1, null), next);
        Assert.Equal(new ProduceResult(ErrorCode.None, 10, ScenarioKit.Timestamp, 0, false, -1, -1, null), after);
        await ScenarioKit.AssertLogAsync(partition, "a0", "a1", "a2", "a3", "a4", "a5", "a6", "p0", "p5", "a7", "a8");
    }

    [Fact]
    public async Task Produce_SdkProducerIdleLongerThanExpiration_NextRecordAcceptedOnFirstSendWithoutEpochBump()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s4-sdk");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        for (int i = 0; i < 7; i++)
        {
            await ScenarioKit.SendAsync(producer, topic, 0, "r" + i);
        }

        InitProducerIdResult probe = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(7, (await partition.ProduceAsync(ScenarioKit.Batch(probe.ProducerId, 0, 0, "p0"))).BaseOffset);
        long pid = producer.ProducerId;
        short epoch = producer.ProducerEpoch;

        fixture.SiloClock.Advance(Idle);
        await WaitForExpiryAsync(partition, probe.ProducerId, expectedOffset: 8);
        using CallFaultRule sends = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());
        DeliveryResult ack = await ScenarioKit.SendAsync(producer, topic, 0, "r7");

        Assert.Equal(9, ack.Offset);
        Assert.False(ack.IsDuplicate);
        Assert.Equal((pid, epoch), (producer.ProducerId, producer.ProducerEpoch));
        InterceptedCall only = Assert.Single(sends.Intercepted); // accepted on the first send: no retry, no error loop
        Assert.Equal(7, only.Header!.Value.BaseSequence);
        await ScenarioKit.AssertLogAsync(partition, "r0", "r1", "r2", "r3", "r4", "r5", "r6", "p0", "p5", "r7");
    }

    /// <summary>
    /// Wait point for the expiry timer, which runs in the partition's turn after the fake clock moved: a probe producer whose state would
    /// refuse a gap (sequence 5 after 0) is accepted once its state, and that of every producer as idle, was dropped. Orleans raises no
    /// event for a timer tick, so this polls (bounded).
    /// </summary>
    private static Task WaitForExpiryAsync(IPartitionGrain partition, long probeProducerId, long expectedOffset) =>
        Wait.UntilAsync(
            async () =>
            {
                ProduceResult result = await partition.ProduceAsync(ScenarioKit.Batch(probeProducerId, 0, 5, "p5"));
                if (result.Error == ErrorCode.None)
                {
                    Assert.Equal(expectedOffset, result.BaseOffset);
                    return true;
                }

                Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, result.Error);
                return false;
            },
            Wait.Phase,
            $"the producer-expiry timer of {partition.GetGrainId()} to drop idle producers");
}
