using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Faults.Workload;
using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Log;
using OrleansBroker.Protocol;
using OrleansBroker.Server;
using OrleansBroker.Testing;

namespace OrleansBroker.ClusterTests.Faults;

/// <summary>
/// Two writers on one partition are impossible at cluster level (SEMANTICS.md "Beyond Kafka"). With in-process silos Orleans cannot be made
/// to run a real duplicate activation, so the second writer is what a duplicate activation would do: open the partition's log through a
/// silo's own <see cref="ILogStoreFactory"/> (the path the grain takes), on another silo and on the same one, while the grain writes; and
/// the reverse, a writer that holds the log first while the SDK keeps producing.
/// </summary>
[Collection(FaultWorkloadCollection.Name)]
public sealed class TwoWritersClusterTests(FaultWorkloadFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public Task InitializeAsync() => fixture.EnsureSilosAsync();

    public Task DisposeAsync()
    {
        fixture.Faults.Reset();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task PartitionLog_SecondWriterOpenedOnEverySiloWhileGrainWrites_IsFencedAndLogStaysOneSequence()
    {
        BrokerClient broker = BrokerClient.FromClusterClient(fixture.Client);
        string topic = "two-writers-" + Guid.NewGuid().ToString("N");
        await broker.Admin.CreateTopicAsync(topic, 1);
        var history = new History();
        await using Producer producer = broker.CreateProducer(new ProducerOptions { LingerMs = 0, RequestTimeout = TimeSpan.FromSeconds(5), DeliveryTimeout = TimeSpan.FromSeconds(30) });
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        var pending = new List<Task>();
        var fenced = new List<LogFencedException>();

        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < 20; i++)
            {
                pending.Add(SendAsync(producer, history, topic, (round * 20) + i));
            }

            // While the grain holds the log (and has batches in flight), a second activation on each silo tries to open it.
            await Wait.ForAsync(partition.ListOffsetsAsync(), Bound, $"the activation of {partition.GetGrainId()}");
            SiloAddress? host = fixture.Cluster.FindHostingSilo(partition);
            Assert.NotNull(host);
            foreach (SiloHandle silo in fixture.Cluster.GetActiveSilos())
            {
                fenced.Add(await Assert.ThrowsAsync<LogFencedException>(() => OpenSecondWriterAsync(silo.SiloAddress, topic)));
            }
        }

        await Wait.ForAsync(Task.WhenAll(pending), Bound, "acknowledgement of every record");
        Assert.Equal(5 * fixture.Cluster.GetActiveSilos().Count(), fenced.Count);
        Assert.All(fenced, f => Assert.Contains("held by another writer", f.Message, StringComparison.Ordinal));
        await AssertOneSequenceAsync(partition, history, topic, expectedRecords: 100);
    }

    /// <summary>
    /// The reverse: another writer (a stale activation that still holds the partition) has the log. The grain's activation is fenced and its
    /// callers get the retriable <see cref="ErrorCode.NotLeaderOrFollower"/>; the other writer appends and closes; the SDK's retry then
    /// succeeds after the other writer's batch: one consistent sequence, nothing lost or written twice.
    /// </summary>
    [Fact]
    public async Task Producer_AnotherWriterHoldsTheLog_NotLeaderOrFollowerThenSdkRetrySucceedsAfterItsBatch()
    {
        BrokerClient broker = BrokerClient.FromClusterClient(fixture.Client);
        string topic = "held-log-" + Guid.NewGuid().ToString("N");
        await broker.Admin.CreateTopicAsync(topic, 1);
        var history = new History();
        await using Producer producer = broker.CreateProducer(new ProducerOptions
        {
            LingerMs = 0,
            RetryBackoff = TimeSpan.FromMilliseconds(10),
            RetryBackoffMax = TimeSpan.FromMilliseconds(50),
            RequestTimeout = TimeSpan.FromSeconds(5),
            DeliveryTimeout = TimeSpan.FromSeconds(30),
        });
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await SendAsync(producer, history, topic, 0);

        // The other writer takes the log (retrying while a queued call reactivates the grain first).
        PartitionLog? other = null;
        SiloAddress anySilo = fixture.Cluster.Primary!.SiloAddress;
        for (int attempt = 0; attempt < 20 && other is null; attempt++)
        {
            await fixture.Cluster.ForceDeactivateAsync(partition);
            try
            {
                other = await OpenSecondWriterAsync(anySilo, topic);
            }
            catch (LogFencedException)
            {
            }
        }

        Assert.NotNull(other);
        using CallFaultRule answers = fixture.Faults.Add(CallFaultRule.OnProduce(partition).Always());
        Task blocked;
        try
        {
            blocked = SendAsync(producer, history, topic, 1);
            await Wait.UntilAsync(
                () => Task.FromResult(answers.Intercepted.Count(c => c.Result is ProduceResult { Error: ErrorCode.NotLeaderOrFollower }) >= 2),
                Bound,
                $"two NotLeaderOrFollower answers from the fenced {partition.GetGrainId()}");
            Assert.False(blocked.IsCompleted);

            // The other writer appends a batch of its own producer id before it lets go.
            byte[] batch = Batch("other");
            Assert.Equal(new LogAppendResult(AppendStatus.Appended, 1, 1_700_000_000_000), await other!.AppendAsync(batch));
            history.RecordSent("other", RecordIdCodec.FormatId("other", 0), topic, 0);
            history.RecordAcknowledged(RecordIdCodec.FormatId("other", 0), topic, 0, 1, isDuplicate: false);
        }
        finally
        {
            await other!.DisposeAsync();
        }

        await Wait.ForAsync(blocked, Bound, "the SDK's retry after the other writer let go");
        ProduceResult fencedAnswer = Assert.IsType<ProduceResult>(answers.Intercepted.First(c => c.Result is ProduceResult { Error: not ErrorCode.None }).Result);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, fencedAnswer.Error);
        Assert.True(fencedAnswer.Error.IsRetriable());
        Assert.Contains("held by another writer", fencedAnswer.Message, StringComparison.Ordinal);
        SentRecord retried = history.GetRecord(RecordIdCodec.FormatId("p", 1))!.Value;
        Assert.Equal(2, retried.AckOffset);
        await AssertOneSequenceAsync(partition, history, topic, expectedRecords: 3);
    }

    /// <summary>Opens the partition's log the way an activation on <paramref name="silo"/> would: that silo's store factory, then the partition log.</summary>
    private async Task<PartitionLog> OpenSecondWriterAsync(SiloAddress silo, string topic)
    {
        ILogStoreFactory factory = fixture.Cluster.GetSiloServiceProvider(silo).GetRequiredService<ILogStoreFactory>();
        var options = new PartitionLogOptions();
        return await PartitionLog.OpenAsync(factory.Create(topic, 0, options), options, TimeProvider.System);
    }

    private static async Task SendAsync(Producer producer, History history, string topic, long sequence)
    {
        string id = RecordIdCodec.FormatId("p", sequence);
        history.RecordSent("p", id, topic, 0);
        DeliveryResult result = await producer.ProduceAsync(new TopicPartition(topic, 0), new Message { Value = RecordIdCodec.Encode("p", sequence, 32) });
        history.RecordAcknowledged(id, result.Topic, result.Partition, result.Offset, result.IsDuplicate);
    }

    private static byte[] Batch(string producer)
    {
        var builder = new RecordBatchBuilder(1 << 16);
        Assert.True(builder.TryAppend(1_700_000_000_000, default, keyIsNull: true, RecordIdCodec.Encode(producer, 0, 32), valueIsNull: false, headers: null));
        return builder.Seal(-1, -1, -1);
    }

    /// <summary>Every batch validates, offsets run 0..n-1 without gap, and the history checker finds nothing.</summary>
    private static async Task AssertOneSequenceAsync(IPartitionGrain partition, History history, string topic, int expectedRecords)
    {
        IReadOnlyList<StoredBatch> batches = await partition.ReadLogAsync();
        long next = 0;
        var observed = new List<ObservedRecord>();
        foreach (StoredBatch batch in batches)
        {
            Assert.Equal(next, batch.Header.BaseOffset);
            next = batch.Header.LastOffset + 1;
            observed.AddRange(batch.Records.Select(r => new ObservedRecord(topic, 0, r.Offset, r.Value is { } v ? RecordIdCodec.ParseRecordId(v.Span) : null)));
        }

        Assert.Equal(expectedRecords, observed.Count);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, expectedRecords, expectedRecords), await partition.ListOffsetsAsync());
        CheckReport report = HistoryChecker.Check(history, observed);
        Assert.Equal(expectedRecords, report.Acknowledged);
        report.ThrowIfAnomalies();
    }
}
