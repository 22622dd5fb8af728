using System.Globalization;
using System.Text;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Client;
using OrleansBroker.DeployTests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.DeployTests.Client;

/// <summary>
/// A silo-host process on Azure Storage (Azurite: logs, metadata and the membership table) on free ports, and clients that are told no
/// gateway: <c>obroker --azure-storage</c> (or <c>OBROKER_AZURE_STORAGE</c>) and the SDK's <c>UseAzureStorageClustering</c> must find it
/// in the membership table. Each run uses its own cluster id, so the default gateway 127.0.0.1:30000 cannot be the one that answers.
/// </summary>
[Collection(SiloProcessCollection.Name)]
public sealed class AzureGatewayDiscoveryTests(SharedAzurite azurite, ITestOutputHelper output)
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Obroker_AzureStorageWithoutGateway_CreatesProducesAndConsumesThousandLinesIdentically()
    {
        await using AzureSilo silo = await AzureSilo.StartAsync(azurite, "cli");
        string[] discovery = ["--azure-storage", silo.ConnectionString, "--cluster-id", silo.ClusterId];
        byte[] input = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 1000).Select(i => string.Create(CultureInfo.InvariantCulture, $"line {i:D4} ü {new string((char)('a' + (i % 26)), i % 40)}\n"))));
        string file = Path.Combine(silo.WorkingDirectory, "lines.txt");
        await File.WriteAllBytesAsync(file, input);

        CliRun create = await CliProcess.RunAsync(silo.WorkingDirectory, null, ["topics", "create", "lines", "--partitions", "1", .. discovery]);
        CliRun produce = await CliProcess.RunAsync(silo.WorkingDirectory, null, ["produce", "lines", "--file", file, .. discovery]);
        CliRun consume = await CliProcess.RunAsync(silo.WorkingDirectory, null, ["consume", "lines", "--from-beginning", "--idle-timeout-ms", "0", .. discovery]);
        CliRun describe = await CliProcess.RunAsync(silo.WorkingDirectory, null, ["topics", "describe", "lines", .. discovery]);

        Assert.True(create.ExitCode == 0, create.Describe());
        Assert.Equal("Created topic 'lines' with 1 partition.\n", Encoding.UTF8.GetString(create.Stdout).ReplaceLineEndings("\n"));
        Assert.True(produce.ExitCode == 0, produce.Describe());
        Assert.True(consume.ExitCode == 0, consume.Describe());
        Assert.Equal(input, consume.Stdout);
        Assert.True(describe.ExitCode == 0, describe.Describe());
        Assert.Contains("1000", Encoding.UTF8.GetString(describe.Stdout), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Obroker_AzureStorageVariable_DiscoversTheSiloAndAnExplicitGatewayWins()
    {
        await using AzureSilo silo = await AzureSilo.StartAsync(azurite, "env");
        string[] cluster = ["--cluster-id", silo.ClusterId];

        // No --gateway and no --azure-storage: the variable leads to the membership table.
        CliRun create = await CliProcess.RunAsync(
            silo.WorkingDirectory,
            new Dictionary<string, string> { ["OBROKER_AZURE_STORAGE"] = silo.ConnectionString },
            ["topics", "create", "from-env", "--partitions", "2", .. cluster]);

        // --gateway on the command line beats a variable that points nowhere.
        CliRun list = await CliProcess.RunAsync(
            silo.WorkingDirectory,
            new Dictionary<string, string> { ["OBROKER_AZURE_STORAGE"] = Azurite.BuildConnectionString(9, 9, 9) },
            ["topics", "list", "--gateway", silo.Gateway, .. cluster]);

        Assert.True(create.ExitCode == 0, create.Describe());
        Assert.True(list.ExitCode == 0, list.Describe());
        Assert.Contains("from-env", Encoding.UTF8.GetString(list.Stdout), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_UseAzureStorageClusteringWithEmptyGateways_ProducesAndConsumes()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using AzureSilo silo = await AzureSilo.StartAsync(azurite, "sdk");
        BrokerClientOptions options = new BrokerClientOptions { ClusterId = silo.ClusterId, ServiceId = silo.ClusterId }
            .UseAzureStorageClustering(silo.ConnectionString);
        Assert.Empty(options.Gateways);
        Assert.Equal(GatewayDiscovery.Clustering, options.GatewayDiscovery);

        await using BrokerClient client = await BrokerClient.ConnectAsync(options, timeout.Token);
        await client.Admin.CreateTopicAsync("sdk", 2, cancellationToken: timeout.Token);
        var acknowledged = new Dictionary<(int Partition, long Offset), string>();
        await using (Producer producer = client.CreateProducer())
        {
            for (int i = 0; i < 200; i++)
            {
                string value = string.Create(CultureInfo.InvariantCulture, $"value-{i}");
                DeliveryResult result = await producer.ProduceAsync(new TopicPartition("sdk", i % 2), Message.FromString(value), timeout.Token);
                acknowledged.Add((result.Partition, result.Offset), value);
            }
        }

        var read = new Dictionary<(int Partition, long Offset), string>();
        await using (Consumer consumer = client.CreateConsumer(new ConsumerOptions { EnablePartitionEof = true }))
        {
            consumer.Assign([new TopicPartitionOffset("sdk", 0, Offset.Beginning), new TopicPartitionOffset("sdk", 1, Offset.Beginning)]);
            var caughtUp = new HashSet<int>();
            await foreach (ConsumeResult record in consumer.ConsumeAsync(timeout.Token))
            {
                if (record.IsPartitionEof)
                {
                    if (caughtUp.Add(record.Partition) && caughtUp.Count == 2)
                    {
                        break;
                    }

                    continue;
                }

                read.Add((record.Partition, record.Offset), record.GetValueString()!);
            }
        }

        Assert.Equal(200, acknowledged.Count);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (0, (long)i)), acknowledged.Keys.Where(k => k.Partition == 0).Order());
        Assert.Equal(acknowledged.OrderBy(p => p.Key), read.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task ConnectAsync_DiscoveryFindsNoSilo_ThrowsNamingTheTableButNotTheKey()
    {
        Azurite storage = await azurite.GetAsync();
        string cluster = "none" + Guid.NewGuid().ToString("N")[..8];
        BrokerClientOptions options = new BrokerClientOptions { ClusterId = cluster, ServiceId = cluster, StartupTimeout = TimeSpan.FromSeconds(3) }
            .UseAzureStorageClustering(storage.ConnectionString);

        BrokerConnectionException error = await Assert.ThrowsAsync<BrokerConnectionException>(() => BrokerClient.ConnectAsync(options));
        output.WriteLine(error.Message);

        Assert.StartsWith(
            $"Cannot reach broker through gateways discovered in Azure Table Storage table 'OrleansSiloInstances' at http://127.0.0.1:{storage.TablePort}/{Azurite.AccountName} within 3 s: ",
            error.Message,
            StringComparison.Ordinal);
        Assert.Contains($"'{cluster}'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Azurite.AccountKey, error.Message, StringComparison.Ordinal);
    }

    /// <summary>One silo-host process on Azure storage and clustering with its own cluster id, containers and free ports.</summary>
    private sealed class AzureSilo : IAsyncDisposable
    {
        private readonly SiloLaunch _launch;
        private readonly SiloHostProcess _process;

        private AzureSilo(SiloLaunch launch, SiloHostProcess process, string clusterId, string connectionString)
        {
            _launch = launch;
            _process = process;
            ClusterId = clusterId;
            ConnectionString = connectionString;
        }

        public string ClusterId { get; }

        public string ConnectionString { get; }

        public string Gateway => _launch.Gateway;

        public string WorkingDirectory => _launch.WorkingDirectory;

        public static async Task<AzureSilo> StartAsync(SharedAzurite azurite, string name)
        {
            Azurite storage = await azurite.GetAsync();
            string run = "d" + name + Guid.NewGuid().ToString("N")[..10];
            var launch = new SiloLaunch(run);
            SiloHostProcess process = launch.Start(
                "--Broker:Storage=AzureStorage",
                $"--ConnectionStrings:AzureStorage={storage.ConnectionString}",
                $"--Broker:ClusterId={run}",
                $"--Broker:ServiceId={run}",
                $"--Broker:AzureStorage:LogContainerName={run}-logs",
                $"--Broker:AzureStorage:GrainStateContainerName={run}-state");
            var silo = new AzureSilo(launch, process, run, storage.ConnectionString);
            try
            {
                await process.WaitStartedAsync(SiloProcessCollection.StartTimeout);
                Assert.Contains("Clustering         : Azure Table Storage, table OrleansSiloInstances", process.Output, StringComparison.Ordinal);
                return silo;
            }
            catch
            {
                await silo.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _process.DisposeAsync();
            _launch.Dispose();
        }
    }
}
