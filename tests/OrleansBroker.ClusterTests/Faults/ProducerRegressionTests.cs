using System.Text;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Faults;

/// <summary>
/// Regression tests for the SDK bugs the fault workload found (each failed before its fix): ordering of a partition's first batches when
/// one is overtaken in flight, and the "possibly persisted" flag of records whose batch was in flight when the producer was fenced.
/// </summary>
[Collection(FaultWorkloadCollection.Name)]
public sealed class ProducerRegressionTests(FaultWorkloadFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public Task InitializeAsync() => fixture.EnsureSilosAsync();

    public Task DisposeAsync()
    {
        fixture.Faults.Reset();
        return Task.CompletedTask;
    }

    /// <summary>
    /// A partition with no state for a producer accepts any sequence (KIP-360, rule 7). Before the fix the SDK sent up to 5 batches to such a
    /// partition at once, so when the first was delayed in the network the second was written first and the first landed after it (reordered;
    /// found by the ReorderDelay, TornTail and StorageFailBeforeWrite workloads). Now a partition gets one batch at a time until it
    /// acknowledged one in the current epoch.
    /// </summary>
    [Fact]
    public async Task Producer_FirstBatchAtPartitionOvertakenInFlight_LogKeepsSendOrder()
    {
        (BrokerClient broker, string topic) = await CreateTopicAsync("order", 2);
        IPartitionGrain partition0 = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        var tp0 = new TopicPartition(topic, 0);
        await using Producer producer = broker.CreateProducer(Options());
        await Wait.ForAsync(producer.ProduceAsync(new TopicPartition(topic, 1), Message.FromString("warm-up")), Bound, "warm-up record at partition 1");

        var gate = new FaultGate("the producer's first batch to partition 0, held in the client");
        using CallFaultRule hold = fixture.Faults.Add(CallFaultRule.OnProduce(partition0).AtClient().WhereBatch(h => h.BaseSequence == 0).Hold(gate));
        using CallFaultRule leftClient = fixture.Faults.Add(CallFaultRule.OnProduce(partition0).AtClient().Always());
        using CallFaultRule atSilo = fixture.Faults.Add(CallFaultRule.OnProduce(partition0).Always());

        Task<DeliveryResult> first = producer.ProduceAsync(tp0, Message.FromString("r0"));
        await gate.WaitReachedAsync(Bound);
        List<Task<DeliveryResult>> later = [.. Enumerable.Range(1, 4).Select(i => producer.ProduceAsync(tp0, Message.FromString($"r{i}")))];

        // Whatever overtook the held batch must have been appended before the held one is let go (deterministic for the old behaviour).
        int overtaking = leftClient.Applications;
        await Wait.UntilAsync(() => Task.FromResult(atSilo.Intercepted.Count >= overtaking), Bound, $"{overtaking} overtaking batches to be appended at {partition0.GetGrainId()}");
        gate.Release();
        DeliveryResult[] acks = await Wait.ForAsync(Task.WhenAll([first, .. later]), Bound, "acknowledgement of r0..r4");

        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], await ValuesAsync(partition0));
        Assert.Equal([0L, 1, 2, 3, 4], acks.Select(a => a.Offset));
        Assert.Equal(0, overtaking);
    }

    /// <summary>
    /// Fencing is per partition: when an old incarnation learns at partition 0 that it was fenced, a batch it has in flight to partition 1
    /// (which has not seen the new epoch) can still be written there. Before the fix the SDK failed that record with
    /// <see cref="ProduceException.PossiblyPersisted"/> false although it was in the log (FailedButStored, found by the ProducerRestart
    /// workload); now every record whose batch had a send in flight or of unknown outcome is reported as possibly persisted.
    /// </summary>
    [Fact]
    public async Task Producer_FencedWhileBatchInFlightToOtherPartition_ReportsItPossiblyPersisted()
    {
        (BrokerClient broker, string topic) = await CreateTopicAsync("fence-inflight", 2);
        IPartitionGrain partition1 = fixture.GrainFactory.GetGrain<IPartitionGrain>(1, topic);
        var tp0 = new TopicPartition(topic, 0);
        var tp1 = new TopicPartition(topic, 1);
        string identity = "fence-inflight-" + Guid.NewGuid().ToString("N");
        await using Producer old = broker.CreateProducer(Options(identity));
        await Wait.ForAsync(old.ProduceAsync(tp0, Message.FromString("old-0")), Bound, "old-0");
        await Wait.ForAsync(old.ProduceAsync(tp1, Message.FromString("old-1")), Bound, "old-1");

        var gate = new FaultGate("the old incarnation's batch to partition 1, held in the client");
        using CallFaultRule hold = fixture.Faults.Add(CallFaultRule.OnProduce(partition1).AtClient().Hold(gate));
        Task<DeliveryResult> inFlight = old.ProduceAsync(tp1, Message.FromString("old-in-flight"));
        await gate.WaitReachedAsync(Bound);

        await using Producer restarted = broker.CreateProducer(Options(identity));
        await Wait.ForAsync(restarted.ProduceAsync(tp0, Message.FromString("new-0")), Bound, "new-0");
        await Assert.ThrowsAsync<ProducerFencedException>(() => old.ProduceAsync(tp0, Message.FromString("zombie")));
        ProduceException inFlightError = await Assert.ThrowsAnyAsync<ProduceException>(() => inFlight.WaitAsync(Bound));

        // The held call now reaches partition 1, which only knows epoch 0: it is written.
        gate.Release();
        await Wait.UntilAsync(() => Task.FromResult(hold.Intercepted.Count == 1), Bound, $"the held batch to be appended at {partition1.GetGrainId()}");

        Assert.Equal(["old-1", "old-in-flight"], await ValuesAsync(partition1));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, inFlightError.ErrorCode);
        Assert.True(inFlightError.PossiblyPersisted, "a record whose batch was in flight when the producer was fenced may be in the log");
    }

    /// <summary>
    /// <see cref="ErrorCode.KafkaStorageError"/> can follow a write that reached the file (the append or its fsync failed after the bytes were
    /// handed to the OS; recovery keeps them). Before the fix the SDK counted that answer as "not written", so a record whose later attempts
    /// kept failing until the delivery timeout was reported with <see cref="ProduceException.PossiblyPersisted"/> false although it was in
    /// the log (FailedButStored).
    /// </summary>
    [Fact]
    public async Task Producer_StorageErrorAfterWriteThenDeliveryTimeout_ReportsRecordPossiblyPersisted()
    {
        (BrokerClient broker, string topic) = await CreateTopicAsync("storage-after-write", 1);
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        var tp = new TopicPartition(topic, 0);
        await using Producer producer = broker.CreateProducer(Options() with { RequestTimeout = TimeSpan.FromSeconds(1), DeliveryTimeout = TimeSpan.FromSeconds(2) });
        await Wait.ForAsync(producer.ProduceAsync(tp, Message.FromString("before")), Bound, "record 'before'");

        // The first attempt is written and then fails (KafkaStorageError); every later attempt fails with KafkaStorageError until the timeout.
        fixture.Faults.Storage.For(topic, 0).FailNextAppendAfterWrite();
        using CallFaultRule stillFailing = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Skip(1)
            .ReplyWithoutInvoke(() => ProduceResult.Failed(ErrorCode.KafkaStorageError, "Injected: the disk keeps failing.")).Always());
        DeliveryTimeoutException expired = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => producer.ProduceAsync(tp, Message.FromString("written-then-failed")).WaitAsync(Bound));
        stillFailing.Dispose();

        Assert.Equal(["before", "written-then-failed"], await ValuesAsync(partition));
        Assert.True(stillFailing.Applications >= 1, "the record was retried");
        Assert.True(expired.PossiblyPersisted, "an attempt answered KafkaStorageError may have been written");
    }

    private static ProducerOptions Options(string? identity = null) => new()
    {
        LingerMs = 0,
        RetryBackoff = TimeSpan.FromMilliseconds(10),
        RetryBackoffMax = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(5),
        DeliveryTimeout = TimeSpan.FromSeconds(30),
        ProducerIdentity = identity,
    };

    private async Task<(BrokerClient Broker, string Topic)> CreateTopicAsync(string prefix, int partitions)
    {
        BrokerClient broker = BrokerClient.FromClusterClient(fixture.Client);
        string topic = prefix + "-" + Guid.NewGuid().ToString("N");
        await broker.Admin.CreateTopicAsync(topic, partitions);
        return (broker, topic);
    }

    private static async Task<List<string?>> ValuesAsync(IPartitionGrain partition)
    {
        // A partition whose storage failed answers one more error while it deactivates; the call after that reopens it.
        for (int attempt = 0; attempt < 5 && (await partition.ListOffsetsAsync()).Error != ErrorCode.None; attempt++)
        {
        }

        return [.. (await partition.ReadLogAsync()).SelectMany(b => b.Records).Select(r => r.Value is { } v ? Encoding.UTF8.GetString(v.Span) : null)];
    }
}
