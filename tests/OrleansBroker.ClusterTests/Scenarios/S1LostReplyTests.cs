using OrleansBroker.Client;
using OrleansBroker.Client.Internal;
using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S1: the partition appends a batch, the reply is lost, the producer resends. SEMANTICS rule 4 (duplicate of one of the last
/// 5 batches: success, nothing written, the original offset) and the SDK rule "a call that timed out may have been written: the retry
/// gets the original offset back".
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class S1LostReplyTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task ProduceAsync_ReplyLostAfterAppend_CallerSeesTimeoutExceptionClassifiedOutcomeUnknown()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s1-raw");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult pid = await ScenarioKit.NewProducerIdAsync(fixture);
        using CallFaultRule rule = fixture.Faults.Add(CallFaultRule.OnProduce(partition).LoseReply());
        byte[] batch = ScenarioKit.Batch(pid.ProducerId, pid.ProducerEpoch, 0, "a", "b");

        Exception lost = await Assert.ThrowsAnyAsync<Exception>(() => partition.ProduceAsync(batch.ToArray()));
        ProduceResult resent = await partition.ProduceAsync(batch.ToArray());

        // What the SDK sees: Orleans carries the filter's TimeoutException back as a TimeoutException, which the SDK treats as
        // "may have been written" and resends with the same bytes.
        Assert.IsType<TimeoutException>(lost);
        Assert.Equal(CallFault.OutcomeUnknown, CallFaults.Classify(lost));
        InterceptedCall original = Assert.Single(rule.Intercepted);
        Assert.True(original.Invoked);
        Assert.Equal(new ProduceResult(ErrorCode.None, 0, ScenarioKit.Timestamp, 0, false, -1, -1, null), original.Result);
        Assert.Equal(new ProduceResult(ErrorCode.None, 0, ScenarioKit.Timestamp, 0, true, -1, -1, null), resent);
        await ScenarioKit.AssertLogAsync(partition, "a", "b");
    }

    [Fact]
    public async Task Produce_ReplyLostAfterAppend_SdkResendsAndAckCarriesOriginalOffsetAsDuplicate()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s1");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        DeliveryResult first = await ScenarioKit.SendAsync(producer, topic, 0, "first");
        short epoch = producer.ProducerEpoch;

        // The batch with sequence 1 is appended, then its reply is lost once.
        using CallFaultRule rule = fixture.Faults.Add(CallFaultRule.OnProduce(partition).WhereBatch(h => h.BaseSequence == 1).LoseReply());
        DeliveryResult second = await ScenarioKit.SendAsync(producer, topic, 0, "second");
        DeliveryResult third = await ScenarioKit.SendAsync(producer, topic, 0, "third");

        Assert.Equal(1, rule.Applications);
        Assert.Equal(2, rule.Matches); // the original and the SDK's resend of the same bytes
        InterceptedCall appended = Assert.Single(rule.Intercepted);
        Assert.True(appended.Invoked);
        Assert.Equal(1, Assert.IsType<ProduceResult>(appended.Result).BaseOffset);
        Assert.False(first.IsDuplicate);
        Assert.Equal(0, first.Offset);
        Assert.Equal(1, second.Offset);
        Assert.True(second.IsDuplicate, "the resend's acknowledgement must say duplicate");
        Assert.Equal(2, third.Offset);
        Assert.False(third.IsDuplicate);
        Assert.Equal(epoch, producer.ProducerEpoch);
        await ScenarioKit.AssertLogAsync(partition, "first", "second", "third");
        IReadOnlyList<StoredBatch> batches = await partition.ReadLogAsync();
        Assert.Equal([0, 1, 2], batches.Select(b => b.Header.BaseSequence));
    }

    [Fact]
    public async Task ProduceAsync_RequestDeliveredTwice_SecondDeliveryIsDuplicateWithOriginalOffset()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s1-twice");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult pid = await ScenarioKit.NewProducerIdAsync(fixture);
        await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 0, "a"));
        using CallFaultRule rule = fixture.Faults.Add(CallFaultRule.OnProduce(partition).DeliverTwice());

        ProduceResult original = await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 1, "b", "c"));
        ProduceResult duplicate = await Wait.ForAsync(Assert.Single(rule.Duplicates), Wait.Phase, $"the second delivery to {partition.GetGrainId()}");

        Assert.Equal(new ProduceResult(ErrorCode.None, 1, ScenarioKit.Timestamp, 0, false, -1, -1, null), original);
        Assert.Equal(new ProduceResult(ErrorCode.None, 1, ScenarioKit.Timestamp, 0, true, -1, -1, null), duplicate);
        await ScenarioKit.AssertLogAsync(partition, "a", "b", "c");
    }
}
