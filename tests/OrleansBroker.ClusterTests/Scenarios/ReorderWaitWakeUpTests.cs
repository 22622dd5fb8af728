using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// What wakes a batch waiting for the batches before it (<see cref="ReorderWaitClusterFixture"/>: its wait never runs out by itself):
/// the missing batch's append, and a storage failure of the log, also one a fetch hit.
/// </summary>
[Collection(ReorderWaitClusterCollection.Name)]
public sealed class ReorderWaitWakeUpTests(ReorderWaitClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task ProduceAsync_WaitingBatch_WokenByTheAppendOfTheBatchBeforeIt()
    {
        (IPartitionGrain partition, long pid, CallFaultRule arrived, _) = await StartAsync("wake-append");
        using (arrived)
        {
            Task<ProduceResult> ahead = partition.ProduceAsync(ScenarioKit.Batch(pid, 0, 2, "c"));
            await arrived.WaitForApplicationsAsync(1, Wait.Phase);

            ProduceResult behind = await partition.ProduceAsync(ScenarioKit.Batch(pid, 0, 1, "b"));
            ProduceResult woken = await ahead.WaitAsync(Wait.Phase);

            Assert.Equal((ErrorCode.None, 1L), (behind.Error, behind.BaseOffset));
            Assert.Equal((ErrorCode.None, 2L), (woken.Error, woken.BaseOffset));
            await ScenarioKit.AssertLogAsync(partition, "a", "b", "c");
        }
    }

    [Fact]
    public async Task ProduceAsync_WaitingBatchWhenAFetchFailsTheLog_AnsweredRetriablyAtOnceAndNothingWritten()
    {
        // Regression (review): a storage failure reached through a fetch did not wake the waiting batch; it slept out its whole wait.
        (IPartitionGrain partition, long pid, CallFaultRule arrived, string topic) = await StartAsync("wake-fetch-failure");
        using (arrived)
        {
            Task<ProduceResult> ahead = partition.ProduceAsync(ScenarioKit.Batch(pid, 0, 2, "c"));
            await arrived.WaitForApplicationsAsync(1, Wait.Phase);
            fixture.Faults.Storage.For(topic, 0).FailNextRead();

            FetchResult fetch = await partition.FetchAsync(0, 1 << 20);
            ProduceResult woken = await ahead.WaitAsync(Wait.Phase);

            Assert.Equal(ErrorCode.KafkaStorageError, fetch.Error);
            Assert.Equal(ErrorCode.KafkaStorageError, woken.Error);
            Assert.True(woken.Error.IsRetriable());
            await ScenarioKit.AssertLogAsync(partition, "a");
        }
    }

    private async Task<(IPartitionGrain Partition, long ProducerId, CallFaultRule Arrived, string Topic)> StartAsync(string prefix)
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, prefix);
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult producer = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(0, (await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 0, "a"))).BaseOffset);
        CallFaultRule arrived = fixture.Faults.Add(CallFaultRule.OnProduce(partition).WhereBatch(h => h.BaseSequence == 2).Always());
        return (partition, producer.ProducerId, arrived, topic);
    }
}
