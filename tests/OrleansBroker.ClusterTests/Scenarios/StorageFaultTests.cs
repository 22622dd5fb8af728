using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// Storage faults under a running cluster. SEMANTICS: rule 8 (durable before the state changes and before the acknowledgement; the state is
/// derivable from the log), "an acknowledgement means the batch is durable", retriable broker errors are retried with the same
/// PID/epoch/sequence; Kafka's KAFKA_STORAGE_ERROR is retriable.
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class StorageFaultTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task Produce_AppendFailsBeforeWrite_SdkRetriesAndBatchIsWrittenOnce()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "disk-before");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        await ScenarioKit.SendAsync(producer, topic, 0, "w");
        PartitionStorageFaults storage = fixture.Faults.Storage.For(topic, 0);
        using CallFaultRule seen = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());

        storage.FailNextAppendBeforeWrite();
        DeliveryResult x = await ScenarioKit.SendAsync(producer, topic, 0, "x");

        Assert.Equal((1L, false), (x.Offset, x.IsDuplicate));
        Assert.Equal(1, storage.AppendsFailed);
        Assert.Equal(ErrorCode.KafkaStorageError, Assert.IsType<ProduceResult>(seen.Intercepted[0].Result).Error);
        Assert.True(ErrorCode.KafkaStorageError.IsRetriable());
        Assert.Equal(2, storage.Opens.Count); // the failed log was closed; a new activation recovered it
        Assert.Equal(1, storage.Opens[1].Recovery.LogEndOffset);
        await ScenarioKit.AssertLogAsync(partition, "w", "x");
    }

    [Fact]
    public async Task Produce_StorageAckLostAfterWrite_ReactivationRecoversBatchAndRetryIsDuplicateWithOriginalOffset()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "disk-after");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        await ScenarioKit.SendAsync(producer, topic, 0, "w");
        PartitionStorageFaults storage = fixture.Faults.Storage.For(topic, 0);

        storage.FailNextAppendAfterWrite();
        DeliveryResult x = await ScenarioKit.SendAsync(producer, topic, 0, "x");
        string[] snapshots = SnapshotFiles(topic);
        DeliveryResult y = await ScenarioKit.SendAsync(producer, topic, 0, "y");

        Assert.Equal(1, x.Offset);
        Assert.True(x.IsDuplicate, "the batch was written before the storage failed: the retry must find it");
        Assert.Equal((2L, false), (y.Offset, y.IsDuplicate));
        Assert.Equal(1, storage.AppendsFailed);
        Assert.Equal(2, storage.Opens.Count);
        Assert.Equal(2, storage.Opens[1].Recovery.LogEndOffset);
        Assert.Empty(snapshots); // a faulted log writes no snapshot: the dedup state was replayed from the stored batch
        await ScenarioKit.AssertLogAsync(partition, "w", "x", "y");
    }

    [Fact]
    public async Task ProduceAsync_DiskFullWithTornWrite_KafkaStorageErrorThenTornTailTruncatedAndAppendsResume()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "disk-full");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult pid = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(0, (await partition.ProduceAsync(ScenarioKit.Batch(pid.ProducerId, 0, 0, "w"))).BaseOffset);
        PartitionStorageFaults storage = fixture.Faults.Storage.For(topic, 0);
        byte[] batch = ScenarioKit.Batch(pid.ProducerId, 0, 1, "x", "y");

        storage.SetDiskFull(true, tornBytes: 40);
        var whileFull = new List<ErrorCode>();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            whileFull.Add((await partition.ProduceAsync(batch.ToArray())).Error);
        }

        storage.SetDiskFull(false);
        ProduceResult appended = await partition.ProduceAsync(batch.ToArray());
        if (appended.Error == ErrorCode.KafkaStorageError)
        {
            // The activation that hit the last disk-full append answers once more while it deactivates.
            appended = await partition.ProduceAsync(batch.ToArray());
        }

        ProduceResult retried = await partition.ProduceAsync(batch.ToArray());

        Assert.All(whileFull, e => Assert.Equal(ErrorCode.KafkaStorageError, e));
        Assert.True(ErrorCode.KafkaStorageError.IsRetriable());
        Assert.Equal(new ProduceResult(ErrorCode.None, 1, ScenarioKit.Timestamp, 0, false, -1, -1, null), appended);
        Assert.Equal(new ProduceResult(ErrorCode.None, 1, ScenarioKit.Timestamp, 0, true, -1, -1, null), retried);
        // The torn prefix left by the first failed write was cut by the next open's recovery, and nothing else.
        Assert.Equal(40, storage.Opens[1].Recovery.TruncatedBytes);
        Assert.Equal(1, storage.Opens[1].Recovery.LogEndOffset);
        Assert.All(storage.Opens.Skip(2), o => Assert.Equal(0, o.Recovery.TruncatedBytes));
        await ScenarioKit.AssertLogAsync(partition, "w", "x", "y"); // every stored batch passes its CRC check
    }

    [Fact]
    public async Task Produce_DiskFullThenSpaceReturns_SdkRetriesUntilWrittenOnce()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "disk-full-sdk");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(ScenarioKit.ProducerOptions());
        await ScenarioKit.SendAsync(producer, topic, 0, "w");
        PartitionStorageFaults storage = fixture.Faults.Storage.For(topic, 0);
        using CallFaultRule seen = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());

        storage.SetDiskFull(true);
        Task<DeliveryResult> x = producer.ProduceAsync(new TopicPartition(topic, 0), Message.FromString("x"));
        // The SDK resends one at a time: once the 4th send reached the partition, the first three were answered while the disk was full.
        await seen.WaitForApplicationsAsync(4, Wait.Phase);
        storage.SetDiskFull(false);
        DeliveryResult ack = await Wait.ForAsync(x, Wait.Phase, $"acknowledgement of 'x' at {topic}[0] once space returned");

        Assert.Equal((1L, false), (ack.Offset, ack.IsDuplicate));
        Assert.True(storage.AppendsFailed >= 1);
        Assert.All(seen.Intercepted.Take(3), c => Assert.Equal(ErrorCode.KafkaStorageError, Assert.IsType<ProduceResult>(c.Result).Error));
        await ScenarioKit.AssertLogAsync(partition, "w", "x");
    }

    private string[] SnapshotFiles(string topic) =>
        [.. Directory.GetFiles(Path.Combine(fixture.DataDirectory, "topics", topic + "-0"), "*.snapshot").Select(f => Path.GetFileName(f))];
}
