using OrleansBroker.ClusterTests.Faults.Workload;
using OrleansBroker.Testing;
using Xunit.Abstractions;

namespace OrleansBroker.ClusterTests.Faults;

/// <summary>
/// Each fault kind on its own, with a fixed seed and a small workload (2 producers × 3 partitions × 120 records, 300 for the continuous kinds; SDK with idempotence):
/// the fault is really injected, and the history checker finds no lost, duplicate, reordered, phantom, wrong-offset, failed-but-stored or
/// unresolved record.
/// </summary>
[Collection(FaultWorkloadCollection.Name)]
public sealed class FaultKindTests(FaultWorkloadFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Seed = 20_241_130;

    public Task InitializeAsync() => fixture.EnsureSilosAsync();

    public Task DisposeAsync()
    {
        fixture.Faults.Reset();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Workload_LostReplies_NoAnomaliesAndRetriesAcknowledgedAsDuplicates()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.LostReply, rate: 0.25);

        Assert.True(result.InjectedCount(FaultKind.LostReply) >= 3, $"{result.InjectedCount(FaultKind.LostReply)} replies lost");
        Assert.True(result.Report.DuplicatesAcknowledged > 0, "a retry after a lost reply is acknowledged as a duplicate with the original offset");
    }

    [Fact]
    public async Task Workload_CallsFailingBeforeInvoke_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.FailBeforeInvoke, rate: 0.25);

        Assert.True(result.InjectedCount(FaultKind.FailBeforeInvoke) >= 3, $"{result.InjectedCount(FaultKind.FailBeforeInvoke)} calls failed");
    }

    [Fact]
    public async Task Workload_DuplicatedRequests_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.DuplicateDelivery, rate: 0.25);

        Assert.True(result.InjectedCount(FaultKind.DuplicateDelivery) >= 3, $"{result.InjectedCount(FaultKind.DuplicateDelivery)} requests delivered twice");
    }

    [Fact]
    public async Task Workload_DelayedAndReorderedRequestsWithFiveInFlight_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.ReorderDelay, rate: 0.2);

        Assert.True(result.InjectedCount(FaultKind.ReorderDelay) >= 3, $"{result.InjectedCount(FaultKind.ReorderDelay)} requests delayed");
    }

    [Fact]
    public async Task Workload_SiloKilledWhilePartitionsOnItAreWritten_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.SiloKill);

        Assert.Equal(1, result.InjectedCount(FaultKind.SiloKill));
    }

    [Fact]
    public async Task Workload_SiloStoppedGracefullyWhilePartitionsOnItAreWritten_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.SiloStop);

        Assert.Equal(1, result.InjectedCount(FaultKind.SiloStop));
    }

    [Fact]
    public async Task Workload_CallTimedOutButStillRan_ResendAcknowledgedAsDuplicateAndNoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.StalledCall, events: 2);

        Assert.Equal(2, result.InjectedCount(FaultKind.StalledCall));
        // One of the two writes the batch, the other is a duplicate: the resend, when the stalled call ran first; the stalled call, when
        // the resend overtook it (produce calls interleave at the partition, so the resend need not queue behind the stalled call).
        Assert.True(
            result.Report.DuplicatesAcknowledged + result.StalledCallsAnsweredAsDuplicate > 0,
            $"neither a resend ({result.Report.DuplicatesAcknowledged}) nor a stalled call ({result.StalledCallsAnsweredAsDuplicate}) was answered as a duplicate");
    }

    [Fact]
    public async Task Workload_PartitionGrainsDeactivatedMidStream_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.Deactivation, events: 4);

        Assert.Equal(4, result.InjectedCount(FaultKind.Deactivation));
    }

    [Fact]
    public async Task Workload_TransientWriteErrors_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.StorageFailBeforeWrite, events: 3);

        Assert.True(result.InjectedCount(FaultKind.StorageFailBeforeWrite) >= 3);
    }

    [Fact]
    public async Task Workload_FailureAfterBytesReachedTheFile_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.StorageFailAfterWrite, events: 3);

        Assert.True(result.InjectedCount(FaultKind.StorageFailAfterWrite) >= 3);
    }

    [Fact]
    public async Task Workload_TornLastBatch_TruncatedByRecoveryAndNoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.TornTail, events: 2);

        Assert.Equal(2, result.InjectedCount(FaultKind.TornTail));
        Assert.Equal(2, result.TornTailsTruncated);
    }

    [Fact]
    public async Task Workload_DiskFull_ClearErrorThenRecoveryAndNoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.DiskFull, events: 2);

        Assert.Equal(2, result.InjectedCount(FaultKind.DiskFull));
    }

    [Fact]
    public async Task Workload_ProducerRestartWithSameIdentityWhileBatchesInFlight_NoAnomalies()
    {
        FaultWorkloadResult result = await RunAsync(FaultKind.ProducerRestart, events: 2);

        Assert.Equal(2, result.InjectedCount(FaultKind.ProducerRestart));
    }

    private async Task<FaultWorkloadResult> RunAsync(FaultKind kind, double rate = 0, int? events = null)
    {
        var options = new FaultWorkloadOptions
        {
            Producers = 2,
            Partitions = 3,
            RecordsPerProducer = kind.IsContinuous() ? 300 : 120,
            InFlightRecordsPerProducer = 30,
            BatchSize = 1024,
            Seed = Seed + (int)kind,
            Faults = [kind],
            FaultRate = rate,
            Events = kind.IsContinuous() ? 0 : events ?? 1,
            RequestTimeout = TimeSpan.FromSeconds(2),
        };
        FaultWorkloadResult result = await new FaultWorkload(fixture, options, output.WriteLine).RunAsync();
        Assert.Equal(options.TotalRecords, result.Records);
        Assert.Equal(options.TotalRecords, result.Report.Acknowledged + result.Report.Failed);
        result.Report.ThrowIfAnomalies();
        if (kind != FaultKind.ProducerRestart)
        {
            // Only a fenced (restarted) producer may fail records; every other fault is ridden out by retries.
            Assert.Equal(0, result.Report.Failed);
        }

        return result;
    }
}
