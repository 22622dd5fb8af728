using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S5 and S6: a batch fails for good, leaving a sequence gap; the next batch is out of order; the SDK bumps the epoch through
/// the registry (KIP-360) and every partition restarts at sequence 0. SEMANTICS: rule 5 (a higher epoch must start at 0), rule 6, SDK
/// rule "On the oldest (a real gap): bump the epoch through the registry and restart that partition's sequence at 0. No record is written
/// twice", registry rule "InitProducerId(pid, epoch): epoch = current -> bump".
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class S5S6EpochBumpTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task Produce_BatchExpiresLeavingGap_NextBatchOutOfOrderThenEpochBumpedAndWrittenOnceAtSequenceZero()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s5");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using var producers = new ProducerCleanup(); // on a stopped fake clock, a plain dispose could wait forever
        Producer producer = producers.Track(client.CreateProducer(ScenarioKit.ProducerOptions() with
        {
            TimeProvider = clock,
            RequestTimeout = TimeSpan.FromSeconds(2),
            DeliveryTimeout = TimeSpan.FromSeconds(5),
            RetryBackoff = TimeSpan.FromMilliseconds(500),
            RetryBackoffMax = TimeSpan.FromSeconds(1),
        }));
        await ScenarioKit.SendAsync(producer, topic, 0, "w");
        long pid = producer.ProducerId;
        short epoch = producer.ProducerEpoch;

        // Every send of the batch with sequence 1 is refused with a retriable error, never written, until its delivery timeout passes.
        using CallFaultRule refuse = fixture.Faults.Add(CallFaultRule.OnProduce(partition)
            .WhereBatch(h => h.BaseSequence == 1 && h.ProducerEpoch == epoch)
            .Always()
            .ReplyWithoutInvoke(() => ProduceResult.Failed(ErrorCode.NotLeaderOrFollower, "Injected: not the leader")));
        using CallFaultRule seen = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());
        Task<DeliveryResult> doomed = producer.ProduceAsync(new TopicPartition(topic, 0), Message.FromString("x"));
        await refuse.WaitForApplicationsAsync(1, Wait.Phase);
        await FakeClockDriver.DriveAsync(clock, doomed, refuse, TimeSpan.FromSeconds(1), 30, $"delivery timeout of 'x' at {topic}[0]");
        DeliveryTimeoutException expired = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => doomed);

        DeliveryResult later = await ScenarioKit.SendAsync(producer, topic, 0, "y");

        Assert.False(expired.PossiblyPersisted, "every send was definitely refused: the batch is known not to be in the log");
        Assert.True(refuse.Applications >= 2, $"the SDK retried the doomed batch ({refuse.Applications} sends)");
        Assert.Equal(1, later.Offset);
        Assert.False(later.IsDuplicate);
        Assert.Equal(pid, producer.ProducerId);
        Assert.Equal(epoch + 1, producer.ProducerEpoch);

        // The partition refused 'y' out of order once (expected 1: the gap), then accepted it in the new epoch at sequence 0.
        IReadOnlyList<ProduceResult> answers = [.. seen.Intercepted.Select(c => Assert.IsType<ProduceResult>(c.Result))];
        Assert.Equal(2, answers.Count);
        Assert.Equal((ErrorCode.OutOfOrderSequenceNumber, 1), (answers[0].Error, answers[0].ExpectedSequence));
        Assert.Equal((ErrorCode.None, 1L), (answers[1].Error, answers[1].BaseOffset));
        await ScenarioKit.AssertLogAsync(partition, "w", "y");
        IReadOnlyList<StoredBatch> stored = await partition.ReadLogAsync();
        Assert.Equal([(pid, epoch, 0), (pid, (short)(epoch + 1), 0)], stored.Select(b => (b.Header.ProducerId, b.Header.ProducerEpoch, b.Header.BaseSequence)));
    }

    [Fact]
    public async Task ProduceAsync_NewEpochWithOldNonZeroSequence_OutOfOrderExpectingZero()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s6-grain", partitions: 2);
        IPartitionGrain p0 = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        IPartitionGrain p1 = fixture.GrainFactory.GetGrain<IPartitionGrain>(1, topic);
        InitProducerIdResult producer = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(ErrorCode.None, (await p0.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 0, "a0", "a1", "a2"))).Error);
        Assert.Equal(ErrorCode.None, (await p1.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 0, "b0", "b1", "b2", "b3", "b4"))).Error);
        InitProducerIdResult bumped = await fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(0)
            .InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, producer.ProducerEpoch));
        Assert.Equal((ErrorCode.None, producer.ProducerId, (short)1), (bumped.Error, bumped.ProducerId, bumped.ProducerEpoch));

        // p1 had nothing in flight; a producer that kept its old sequence (5) in the new epoch is refused.
        ProduceResult oldSequence = await p1.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 1, 5, "b5"));
        ProduceResult restarted = await p1.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 1, 0, "b5"));
        ProduceResult zombie = await p1.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 5, "late"));

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, oldSequence.Error);
        Assert.Equal(0, oldSequence.ExpectedSequence);
        Assert.Equal(-1, oldSequence.BaseOffset);
        Assert.Equal(new ProduceResult(ErrorCode.None, 5, ScenarioKit.Timestamp, 0, false, -1, -1, null), restarted);
        Assert.Equal((ErrorCode.InvalidProducerEpoch, (short)1), (zombie.Error, zombie.CurrentEpoch));
        await ScenarioKit.AssertLogAsync(p1, "b0", "b1", "b2", "b3", "b4", "b5");
    }

    [Fact]
    public async Task Produce_EpochBumpedByGapOnOnePartition_IdlePartitionRestartsAtSequenceZero()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s6-sdk", partitions: 2);
        IPartitionGrain p0 = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        IPartitionGrain p1 = fixture.GrainFactory.GetGrain<IPartitionGrain>(1, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        await ScenarioKit.SendAsync(producer, topic, 0, "a0");
        foreach (string value in (string[])["b0", "b1", "b2"])
        {
            await ScenarioKit.SendAsync(producer, topic, 1, value);
        }

        long pid = producer.ProducerId;
        short epoch = producer.ProducerEpoch;

        // p0 reports a real gap on its oldest (only) batch: nothing is in the log for it, the SDK must bump the epoch.
        using CallFaultRule gap = fixture.Faults.Add(CallFaultRule.OnProduce(p0)
            .WhereBatch(h => h.ProducerEpoch == epoch && h.BaseSequence == 1)
            .ReplyWithoutInvoke(() => new ProduceResult(ErrorCode.OutOfOrderSequenceNumber, -1, -1, 0, false, 5, -1, "Injected: expected 5")));
        DeliveryResult a1 = await ScenarioKit.SendAsync(producer, topic, 0, "a1");
        DeliveryResult b3 = await ScenarioKit.SendAsync(producer, topic, 1, "b3");

        Assert.Equal(1, gap.Applications);
        Assert.Equal(pid, producer.ProducerId);
        Assert.Equal(epoch + 1, producer.ProducerEpoch);
        Assert.Equal((1L, false), (a1.Offset, a1.IsDuplicate));
        Assert.Equal((3L, false), (b3.Offset, b3.IsDuplicate));
        IReadOnlyList<StoredBatch> stored0 = await p0.ReadLogAsync();
        IReadOnlyList<StoredBatch> stored1 = await p1.ReadLogAsync();
        Assert.Equal([(epoch, 0), ((short)(epoch + 1), 0)], stored0.Select(b => (b.Header.ProducerEpoch, b.Header.BaseSequence)));
        Assert.Equal([(epoch, 0), (epoch, 1), (epoch, 2), ((short)(epoch + 1), 0)], stored1.Select(b => (b.Header.ProducerEpoch, b.Header.BaseSequence)));
        await ScenarioKit.AssertLogAsync(p0, "a0", "a1");
        await ScenarioKit.AssertLogAsync(p1, "b0", "b1", "b2", "b3");
    }
}
