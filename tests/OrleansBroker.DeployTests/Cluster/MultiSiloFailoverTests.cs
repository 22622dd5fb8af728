using System.Diagnostics;
using System.Globalization;
using Azure.Data.Tables;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Client;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.Testing;
using Xunit.Abstractions;

namespace OrleansBroker.DeployTests.Cluster;

/// <summary>
/// Three silo-host processes on Azure Storage (Azurite: logs in blobs, metadata in blob grain state, membership in a table), an SDK
/// producer writing a stream of identified records to every partition, and a SIGKILL of the silo hosting the most partitions
/// mid-stream. Its partitions must serve again on the other silos (once membership has declared it dead and its blob leases have
/// expired), and the history checker must find nothing lost, duplicated or reordered.
/// </summary>
[Collection(SiloProcessCollection.Name)]
public sealed class MultiSiloFailoverTests(SharedAzurite azurite, ITestOutputHelper output)
{
    private const int SiloCount = 3;
    private const int PartitionCount = 6;
    private const int RecordsPerPartition = 4000;
    private const int RecordSize = 100;
    private const int Window = 200;

    /// <summary>Bound of the whole test: start, stream, failover, readback.</summary>
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(150);

    [Fact]
    public async Task KillSilo_MidStream_PartitionsServeAgainWithNothingLostOrDuplicated()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var total = Stopwatch.StartNew();
        Azurite storage = await azurite.GetAsync();
        string run = "f" + Guid.NewGuid().ToString("N")[..10];
        string topic = "failover";

        var launches = Enumerable.Range(0, SiloCount).Select(i => new SiloLaunch($"{run}-silo{i}")).ToArray();
        var silos = new List<SiloHostProcess>();
        try
        {
            foreach (SiloLaunch launch in launches)
            {
                silos.Add(launch.Start(
                    "--Broker:Storage=AzureStorage",
                    $"--ConnectionStrings:AzureStorage={storage.ConnectionString}",
                    $"--Broker:ClusterId={run}",
                    $"--Broker:ServiceId={run}",
                    $"--Broker:AzureStorage:LogContainerName={run}-logs",
                    $"--Broker:AzureStorage:GrainStateContainerName={run}-state",
                    "--Broker:SegmentBytes=4194304"));
            }

            await Task.WhenAll(silos.Select(s => s.WaitStartedAsync(SiloProcessCollection.StartTimeout)));
            TimeSpan started = total.Elapsed;
            Assert.All(silos, s => Assert.Contains("Clustering         : Azure Table Storage", s.Output, StringComparison.Ordinal));
            Assert.All(silos, s => Assert.Contains("Health             : disabled", s.Output, StringComparison.Ordinal));

            // The producer's client knows every gateway; a dead one is skipped.
            await using BrokerClient client = await BrokerClient.ConnectAsync(
                new BrokerClientOptions { Gateways = [.. launches.Select(l => l.Gateway)], ClusterId = run, ServiceId = run },
                timeout.Token);
            await client.Admin.CreateTopicAsync(topic, PartitionCount, cancellationToken: timeout.Token);

            await using Producer producer = client.CreateProducer(new ProducerOptions
            {
                LingerMs = 5,
                RequestTimeout = TimeSpan.FromSeconds(5),
                DeliveryTimeout = TimeSpan.FromSeconds(100),
                RetryBackoffMax = TimeSpan.FromMilliseconds(500),
            });
            var stream = new RecordStream(producer, topic, PartitionCount, RecordsPerPartition, RecordSize, Window);
            stream.NotifyWhenAcknowledged(PartitionCount * RecordsPerPartition / 5);
            Task producing = stream.RunAsync(timeout.Token);

            // Mid-stream: kill the silo that hosts the most partition grains.
            await stream.AcknowledgedEnough.WaitAsync(timeout.Token);
            (int victimIndex, int[] moved) = await FindBusiestSiloAsync(client, launches);
            long ackedAtKill = stream.Acknowledged;
            await silos[victimIndex].KillHard();
            stream.Mark();
            TimeSpan killedAt = total.Elapsed;

            await producing.WaitAsync(timeout.Token);
            await producer.FlushAsync(timeout.Token);
            TimeSpan producedAt = total.Elapsed;

            // Read back through a client that finds the gateways in the Azure membership table, as a client of the Kubernetes
            // deployment can: its static gateway is a closed port, so only the table can lead it to the surviving silos.
            await using BrokerClient reader = await BrokerClient.ConnectAsync(
                new BrokerClientOptions
                {
                    Gateways = ["127.0.0.1:9"],
                    ClusterId = run,
                    ServiceId = run,
                    ConfigureClient = c => c.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(storage.ConnectionString)),
                },
                timeout.Token);
            List<ObservedRecord> observed = await BrokerReadback.ReadAllAsync(reader, topic, PartitionCount, timeout.Token);
            CheckReport report = HistoryChecker.Check(stream.History, observed);

            TimeSpan?[] serveAgain = [.. Enumerable.Range(0, PartitionCount).Select(stream.FirstAckAfterMark)];
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"silos started {started.TotalSeconds:0.0} s; killed silo{victimIndex} (partitions {string.Join(',', moved)}) at {killedAt.TotalSeconds:0.0} s after {ackedAtKill} acks; produced by {producedAt.TotalSeconds:0.0} s; total {total.Elapsed.TotalSeconds:0.0} s"));
            for (int p = 0; p < PartitionCount; p++)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"partition {p}{(moved.Contains(p) ? " (on the killed silo)" : string.Empty)}: {stream.SentAfterMark(p)} records sent after the kill, the first acknowledged {serveAgain[p]?.TotalSeconds:0.00} s after it"));
            }

            output.WriteLine(report.ToTable());

            Assert.False(report.HasAnomalies, report.ToTable());
            Assert.Equal(PartitionCount * RecordsPerPartition, report.Sent);
            Assert.Equal(report.Sent, report.Acknowledged + report.Failed);
            Assert.True(report.Acknowledged >= report.Sent * 9 / 10, report.ToTable());
            // Every partition of the killed silo that still had records to write served them again on another silo.
            int[] movedAndWritten = [.. moved.Where(p => stream.SentAfterMark(p) > 0)];
            Assert.NotEmpty(movedAndWritten);
            Assert.All(movedAndWritten, p => Assert.NotNull(serveAgain[p]));
            Assert.Equal(137, await silos[victimIndex].Exited);
            Assert.All(silos.Where((_, i) => i != victimIndex), s => Assert.False(s.Exited.IsCompleted, s.Output));
        }
        finally
        {
            foreach (SiloHostProcess silo in silos)
            {
                await silo.DisposeAsync();
            }

            foreach (SiloLaunch launch in launches)
            {
                launch.Dispose();
            }
        }
    }

    /// <summary>The silo hosting the most partition grains (Orleans' management grain), and those partitions.</summary>
    private static async Task<(int Index, int[] Partitions)> FindBusiestSiloAsync(BrokerClient client, SiloLaunch[] launches)
    {
        IManagementGrain management = client.ClusterClient!.GetGrain<IManagementGrain>(0);
        DetailedGrainStatistic[] statistics = await management.GetDetailedGrainStatistics();
        var partitionsBySilo = statistics
            .Where(s => s.GrainType.Contains("PartitionGrain", StringComparison.Ordinal))
            .GroupBy(s => s.SiloAddress.Endpoint.Port)
            .Select(g => (Port: g.Key, Partitions: g.Select(s => (int)s.GrainId.GetIntegerKey(out _)).Order().ToArray()))
            .OrderByDescending(g => g.Partitions.Length)
            .ToArray();
        Assert.NotEmpty(partitionsBySilo);
        int index = Array.FindIndex(launches, l => l.SiloPort == partitionsBySilo[0].Port);
        Assert.True(index >= 0, $"No silo listens on {partitionsBySilo[0].Port}.");
        return (index, partitionsBySilo[0].Partitions);
    }
}
