using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Log;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// Grain calls overtake each other on the way to a partition (Orleans does not keep message order): an idempotent batch that arrives
/// ahead of its producer's next sequence waits for the batches before it (<c>Broker:ProduceReorderWait</c>, 50 ms by default) instead of
/// being refused, and is then appended in sequence order; a real gap is still refused, with nothing written.
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class ReorderedBatchesTests(FaultClusterFixture fixture) : IDisposable
{
    public void Dispose() => fixture.Faults.Reset();

    [Fact]
    public async Task ProduceAsync_BatchArrivesBeforeTheOneBeforeIt_WaitsThenBothAppendedInSequenceOrder()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "reorder");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult producer = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(0, (await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 0, "a"))).BaseOffset);
        using CallFaultRule arrived = fixture.Faults.Add(CallFaultRule.OnProduce(partition).WhereBatch(h => h.BaseSequence == 2).Always());

        // Sequence 2 reaches the partition first (its arrival is observed inside the grain's turn), sequence 1 after it.
        Task<ProduceResult> ahead = partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 2, "c"));
        await arrived.WaitForApplicationsAsync(1, Wait.Phase);
        ProduceResult behind = await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 1, "b"));
        ProduceResult aheadResult = await ahead.WaitAsync(Wait.Phase);

        Assert.Equal((ErrorCode.None, 1L, false), (behind.Error, behind.BaseOffset, behind.IsDuplicate));
        Assert.Equal((ErrorCode.None, 2L, false), (aheadResult.Error, aheadResult.BaseOffset, aheadResult.IsDuplicate));
        await ScenarioKit.AssertLogAsync(partition, "a", "b", "c");
    }

    [Fact]
    public async Task ProduceAsync_GapNeverFilled_RefusedOutOfOrderAfterTheWaitAndNothingWritten()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "reorder-gap");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        InitProducerIdResult producer = await ScenarioKit.NewProducerIdAsync(fixture);
        Assert.Equal(0, (await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 0, "a"))).BaseOffset);

        ProduceResult gap = await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 5, "f"));
        ProduceResult next = await partition.ProduceAsync(ScenarioKit.Batch(producer.ProducerId, 0, 1, "b"));

        Assert.Equal((ErrorCode.OutOfOrderSequenceNumber, 1), (gap.Error, gap.ExpectedSequence));
        Assert.Equal((ErrorCode.None, 1L), (next.Error, next.BaseOffset));
        await ScenarioKit.AssertLogAsync(partition, "a", "b");
    }

    [Theory]
    [InlineData(AppendCheckKind.OutOfOrderSequence, 7, 9, true)]
    [InlineData(AppendCheckKind.OutOfOrderSequence, 7, 5, false)] // behind the expected sequence: a stale batch, not a reordered one
    [InlineData(AppendCheckKind.OutOfOrderSequence, int.MaxValue - 1, 2, true)] // ahead across the wrap past int.MaxValue
    [InlineData(AppendCheckKind.OutOfOrderSequence, 2, int.MaxValue - 1, false)]
    [InlineData(AppendCheckKind.OutOfOrderSequence, 0, 3, true)] // the first batch of a new epoch has not arrived yet
    [InlineData(AppendCheckKind.Accept, -1, 9, false)]
    [InlineData(AppendCheckKind.Duplicate, -1, 9, false)]
    [InlineData(AppendCheckKind.InvalidProducerEpoch, -1, 9, false)]
    public void IsAheadOfExpected_ByCheckAndDistance(AppendCheckKind kind, int expected, int baseSequence, bool ahead)
    {
        Assert.Equal(ahead, PartitionGrain.IsAheadOfExpected(new AppendCheck(kind, ExpectedSequence: expected), baseSequence));
    }
}
