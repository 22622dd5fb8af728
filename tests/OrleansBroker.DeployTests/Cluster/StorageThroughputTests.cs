using System.Diagnostics;
using System.Globalization;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Client;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.Testing;
using Xunit.Abstractions;

namespace OrleansBroker.DeployTests.Cluster;

/// <summary>
/// The same SDK workload against two single-silo hosts of the same run, one on the embedded file store and one on Azure Storage
/// (Azurite), to compare append throughput. Both must acknowledge and store every record exactly once; the figures go to the test
/// output (they are measurements, not assertions: Azurite is an emulator on this machine, not the service).
/// </summary>
[Collection(SiloProcessCollection.Name)]
public sealed class StorageThroughputTests(SharedAzurite azurite, ITestOutputHelper output)
{
    private const int RecordSize = 100;

    /// <summary>Throughput-bound: many records in flight, so the producer fills large batches.</summary>
    private static readonly Workload Bulk = new("bulk", Partitions: 4, RecordsPerPartition: 50_000, Window: 1000);

    /// <summary>Latency-bound: one record at a time, so each record is one batch, one grain call and one storage write.</summary>
    private static readonly Workload OneByOne = new("one at a time", Partitions: 1, RecordsPerPartition: 1000, Window: 1);

    [Fact]
    public async Task Produce_FileAndAzureStorage_EveryRecordStoredOnceOnBoth()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        Azurite storage = await azurite.GetAsync();
        string run = "t" + Guid.NewGuid().ToString("N")[..10];
        using var fileLaunch = new SiloLaunch($"{run}-file");
        using var azureLaunch = new SiloLaunch($"{run}-azure");
        await using SiloHostProcess fileSilo = fileLaunch.Start($"--Broker:ClusterId={run}-file", $"--Broker:ServiceId={run}-file");
        await using SiloHostProcess azureSilo = azureLaunch.Start(
            "--Broker:Storage=AzureStorage",
            "--Broker:Clustering=Localhost",
            $"--ConnectionStrings:AzureStorage={storage.ConnectionString}",
            $"--Broker:ClusterId={run}-azure",
            $"--Broker:ServiceId={run}-azure",
            $"--Broker:AzureStorage:LogContainerName={run}-logs",
            $"--Broker:AzureStorage:GrainStateContainerName={run}-state");
        await Task.WhenAll(fileSilo.WaitStartedAsync(SiloProcessCollection.StartTimeout), azureSilo.WaitStartedAsync(SiloProcessCollection.StartTimeout));
        Assert.Contains("Data directory     :", fileSilo.Output, StringComparison.Ordinal);
        Assert.Contains("Azure Storage      : logs in container", azureSilo.Output, StringComparison.Ordinal);

        var results = new List<(Workload Workload, Measurement File, Measurement Azure)>();
        foreach (Workload workload in new[] { Bulk, OneByOne })
        {
            Measurement file = await MeasureAsync(fileLaunch.Gateway, $"{run}-file", workload, timeout.Token);
            Measurement azure = await MeasureAsync(azureLaunch.Gateway, $"{run}-azure", workload, timeout.Token);
            results.Add((workload, file, azure));
            output.WriteLine(file.Describe("file store"));
            output.WriteLine(azure.Describe("Azure (Azurite)"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload.Name}: Azurite / file throughput = {azure.RecordsPerSecond / file.RecordsPerSecond:0.00}"));
        }

        foreach ((Workload workload, Measurement file, Measurement azure) in results)
        {
            foreach (Measurement m in new[] { file, azure })
            {
                Assert.False(m.Report.HasAnomalies, m.Report.ToTable());
                Assert.Equal(workload.Records, m.Report.Acknowledged);
                Assert.Equal(workload.Records, m.Report.Observed);
                Assert.Equal(0, m.Report.DuplicatesAcknowledged);
            }
        }
    }

    private static async Task<Measurement> MeasureAsync(string gateway, string clusterId, Workload workload, CancellationToken cancellationToken)
    {
        await using BrokerClient client = await BrokerClient.ConnectAsync(
            new BrokerClientOptions { Gateways = [gateway], ClusterId = clusterId, ServiceId = clusterId },
            cancellationToken);
        string topic = "perf-" + workload.Name.Replace(' ', '-');
        await client.Admin.CreateTopicAsync("warmup-" + topic, 1, cancellationToken: cancellationToken);
        await client.Admin.CreateTopicAsync(topic, workload.Partitions, cancellationToken: cancellationToken);
        await using Producer producer = client.CreateProducer(new ProducerOptions { LingerMs = workload.Window == 1 ? 0 : 5 });

        // Warm up code paths, the producer id and the catalog; then measure on partitions that open at first use, as in production.
        await new RecordStream(producer, "warmup-" + topic, 1, 500, RecordSize, workload.Window).RunAsync(cancellationToken);
        var stream = new RecordStream(producer, topic, workload.Partitions, workload.RecordsPerPartition, RecordSize, workload.Window);
        var stopwatch = Stopwatch.StartNew();
        await stream.RunAsync(cancellationToken);
        TimeSpan elapsed = stopwatch.Elapsed;

        List<ObservedRecord> observed = await BrokerReadback.ReadAllAsync(client, topic, workload.Partitions, cancellationToken);
        return new Measurement(workload, elapsed, HistoryChecker.Check(stream.History, observed));
    }

    private sealed record Workload(string Name, int Partitions, int RecordsPerPartition, int Window)
    {
        public int Records => Partitions * RecordsPerPartition;
    }

    private sealed record Measurement(Workload Workload, TimeSpan Elapsed, CheckReport Report)
    {
        public double RecordsPerSecond => Report.Acknowledged / Elapsed.TotalSeconds;

        public string Describe(string store) => string.Create(
            CultureInfo.InvariantCulture,
            $"{Workload.Name}, {store}: {Report.Acknowledged} records of {RecordSize} B in {Elapsed.TotalSeconds:0.00} s = {RecordsPerSecond:0} records/s "
            + $"({RecordsPerSecond * RecordSize / 1e6:0.00} MB/s of values{(Workload.Window == 1 ? $", {Elapsed.TotalMilliseconds / Report.Acknowledged:0.000} ms per acknowledged record" : string.Empty)}), "
            + $"{Workload.Partitions} partition(s), {Workload.Window} in flight per partition");
    }
}
