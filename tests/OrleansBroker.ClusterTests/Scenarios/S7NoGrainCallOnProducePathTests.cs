using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// SCENARIOS S7: the partition grain, while handling a produce call, must never await another grain (which could call back into it and
/// deadlock a non-reentrant grain). SEMANTICS: "The produce path never calls the registry: a partition grain must not wait on it."
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class S7NoGrainCallOnProducePathTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task Produce_RegistryUnavailableAfterProducerIdObtained_RecordsStillAcknowledged()
    {
        string warmup = await ScenarioKit.CreateTopicAsync(fixture, "s7-warmup");
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s7");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        await ScenarioKit.SendAsync(producer, warmup, 0, "pid"); // the producer id is obtained here
        short epoch = producer.ProducerEpoch;

        // From now on the registry never answers (a grain that hangs). The partition of `topic` activates during the outage.
        var outage = new FaultGate("every call to the producer registry");
        using CallFaultRule registryDown = fixture.Faults.Add(CallFaultRule.OnGrain<IProducerRegistryGrain>().Always().Hold(outage));
        var acks = new List<DeliveryResult>();
        foreach (string value in (string[])["a", "b", "c"])
        {
            acks.Add(await ScenarioKit.SendAsync(producer, topic, 0, value));
        }

        Assert.Equal([0L, 1, 2], acks.Select(a => a.Offset));
        Assert.Equal(0, registryDown.Matches);
        Assert.Equal(0, outage.Reached);
        Assert.Equal(epoch, producer.ProducerEpoch);
        await ScenarioKit.AssertLogAsync(partition, "a", "b", "c");
    }

    [Fact]
    public async Task ProduceAsync_AnyBatch_PartitionMakesNoOutgoingGrainCallDuringProduce()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "s7-calls");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult pid = await ScenarioKit.NewProducerIdAsync(fixture);
        GrainId grain = partition.GetGrainId();

        ProduceResult first = await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 0, "a"));
        ProduceResult duplicate = await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 0, "a"));
        ProduceResult gap = await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 7, "x"));
        ProduceResult invalidHeader = await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, -1, 1, "bad"));
        ProduceResult plain = await partition.ProduceAsync(ScenarioKit.Batch(-1, -1, -1, "b"));

        Assert.Equal((ErrorCode.None, false), (first.Error, first.IsDuplicate));
        Assert.Equal((ErrorCode.None, true), (duplicate.Error, duplicate.IsDuplicate));
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, gap.Error);
        Assert.NotEqual(ErrorCode.None, invalidHeader.Error);
        Assert.Equal(ErrorCode.None, plain.Error);

        // The observer does see this grain's calls: its activation asked the topic catalog (outside any call's turn)...
        Assert.Contains(fixture.Faults.Journal.CallsFrom(grain), c => c.InterfaceType == typeof(ITopicCatalogGrain) && c.DuringTurnOf is null);
        // ...but no produce turn, whatever its outcome, made a grain call.
        Assert.Empty(fixture.Faults.Journal.CallsDuring(grain, nameof(IPartitionGrain.ProduceAsync)));
        await ScenarioKit.AssertLogAsync(partition, "a", "b");
    }

    [Fact]
    public async Task CallJournal_GrainCallsAnotherGrainInItsTurn_CallIsAttributedToThatTurn()
    {
        IJournalProbeGrain probe = fixture.GrainFactory.GetGrain<IJournalProbeGrain>(Guid.NewGuid());

        ErrorCode described = await probe.DescribeThroughCatalogAsync("no-such-topic-" + Guid.NewGuid().ToString("N"));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, described);
        OutgoingCall call = Assert.Single(fixture.Faults.Journal.CallsDuring(probe.GetGrainId(), nameof(IJournalProbeGrain.DescribeThroughCatalogAsync)));
        Assert.Equal(typeof(ITopicCatalogGrain), call.InterfaceType);
        Assert.Equal(nameof(ITopicCatalogGrain.DescribeTopicAsync), call.Method);
    }
}
