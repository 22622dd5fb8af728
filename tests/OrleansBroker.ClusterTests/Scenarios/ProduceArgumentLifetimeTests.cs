using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>
/// <see cref="IPartitionGrain.ProduceAsync"/> takes its batch as an immutable <see cref="BatchBytes"/>: Orleans does not copy the caller's bytes when the call
/// is made but serializes them later (why the SDK keeps a batch's buffer until every call carrying it has finished). A caller that
/// breaks the rule and overwrites its buffer right after the call must never get garbage stored: each batch is either stored intact
/// or refused by the format and CRC-32C checks.
/// </summary>
[Collection(BrokerClusterCollection.Name)]
public sealed class ProduceArgumentLifetimeTests(BrokerClusterFixture fixture)
{
    [Fact]
    public async Task ProduceAsync_CallerOverwritesItsBufferRightAfterTheCall_EachBatchStoredIntactOrRefused()
    {
        string topic = await ScenarioKit.CreateTopicAsync(fixture, "argument-lifetime");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        const int Calls = 40;
        var results = new List<ProduceResult>();
        for (int i = 0; i < Calls; i++)
        {
            // A large batch in a larger buffer, as the SDK's builders hold them.
            byte[] sealedBatch = ScenarioKit.Batch(-1, -1, -1, $"v{i}-" + new string('x', 200_000));
            byte[] buffer = new byte[sealedBatch.Length + 4096];
            sealedBatch.CopyTo(buffer, 0);
            Task<ProduceResult> call = partition.ProduceAsync(new BatchBytes(buffer.AsMemory(0, sealedBatch.Length)));
            Array.Fill(buffer, (byte)0xAB); // the buffer reused for another batch too early
            results.Add(await call);
        }

        IReadOnlyList<(long Offset, string? Value)> stored = await ScenarioKit.ReadValuesAsync(partition);
        string[] accepted = [.. results.Select((r, i) => (r, i)).Where(x => x.r.Error == ErrorCode.None).Select(x => $"v{x.i}-")];
        Assert.All(results, r => Assert.Contains(r.Error, new[] { ErrorCode.None, ErrorCode.CorruptMessage, ErrorCode.UnsupportedForMessageFormat, ErrorCode.InvalidRecord }));
        Assert.Equal(accepted, stored.Select(v => v.Value![..(v.Value!.IndexOf('-') + 1)]));
        Assert.All(stored, v => Assert.Equal(200_000, v.Value!.Length - v.Value.IndexOf('-') - 1));
    }
}
