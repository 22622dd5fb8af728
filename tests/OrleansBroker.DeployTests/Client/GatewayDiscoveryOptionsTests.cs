using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.Messaging;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Client;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.SiloHost;

namespace OrleansBroker.DeployTests.Client;

/// <summary>Options of gateway discovery: validation, the Azure extension's copy of the options, and the CLI's refusals (no silo needed).</summary>
public sealed class GatewayDiscoveryOptionsTests
{
    [Fact]
    public void Validate_NoGatewaysAndNoDiscovery_SaysBothWaysToFindGateways()
    {
        var options = new BrokerClientOptions { Gateways = [] };

        ArgumentException error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(
            "Invalid BrokerClientOptions: No gateway and no gateway discovery: set Gateways to at least one gateway (host:port), "
            + "or discover gateways through the cluster's membership table (e.g. options.UseAzureStorageClustering(connectionString) "
            + "from OrleansBroker.Client.AzureStorage, which sets GatewayDiscovery to Clustering).",
            error.Message);
    }

    [Fact]
    public async Task ConnectAsync_NoGatewaysAndNoDiscovery_ThrowsBeforeConnecting()
    {
        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => BrokerClient.ConnectAsync(new BrokerClientOptions { Gateways = [] }));

        Assert.Contains("No gateway and no gateway discovery", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ClusteringWithoutConfigureClient_NamesConfigureClient()
    {
        var options = new BrokerClientOptions { Gateways = [], GatewayDiscovery = GatewayDiscovery.Clustering };

        ArgumentException error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith("Invalid BrokerClientOptions: GatewayDiscovery is Clustering, but ConfigureClient is null", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Gateways (", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ClusteringWithGateways_AsksForEmptyGateways()
    {
        BrokerClientOptions options = new BrokerClientOptions().UseAzureStorageClustering(Azurite.BuildConnectionString(9, 9, 9)) with { Gateways = ["10.0.0.1:30000"] };

        ArgumentException error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(
            "Invalid BrokerClientOptions: Gateways (10.0.0.1:30000) must be empty when GatewayDiscovery is Clustering: the clustering provider finds the gateways; "
            + "set Gateways = [] or use GatewayDiscovery Static.",
            error.Message);
    }

    [Fact]
    public void Validate_Defaults_StaticDiscoveryOnTheDefaultGateway()
    {
        BrokerClientOptions.Default.Validate();

        Assert.Equal(GatewayDiscovery.Static, BrokerClientOptions.Default.GatewayDiscovery);
        Assert.Equal([BrokerClientOptions.DefaultGateway], BrokerClientOptions.Default.Gateways);
        Assert.Null(BrokerClientOptions.Default.GatewayDiscoverySource);
    }

    [Fact]
    public void UseAzureStorageClustering_ExistingHook_RunsItThenRegistersTheAzureGatewayListProvider()
    {
        int hookCalls = 0;
        var original = new BrokerClientOptions { ClusterId = "c1", ServiceId = "s1", ConfigureClient = _ => hookCalls++ };

        BrokerClientOptions options = original.UseAzureStorageClustering(Azurite.BuildConnectionString(9, 9, 9));
        options.Validate();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(options.ConfigureClient!);
        ServiceDescriptor[] providers = [.. builder.Services.Where(d => d.ServiceType == typeof(IGatewayListProvider))];

        Assert.Equal(1, hookCalls);
        Assert.Empty(options.Gateways);
        Assert.Equal(GatewayDiscovery.Clustering, options.GatewayDiscovery);
        Assert.Equal("c1", options.ClusterId);
        Assert.Equal("s1", options.ServiceId);
        Assert.Equal($"Azure Table Storage table 'OrleansSiloInstances' at http://127.0.0.1:9/{Azurite.AccountName}", options.GatewayDiscoverySource);
        ServiceDescriptor provider = Assert.Single(providers);
        Assert.Equal("AzureGatewayListProvider", provider.ImplementationType?.Name);
        // The original is unchanged: the extension returns a copy.
        Assert.Equal(GatewayDiscovery.Static, original.GatewayDiscovery);
        Assert.Equal([BrokerClientOptions.DefaultGateway], original.Gateways);
    }

    [Fact]
    public void UseAzureStorageClustering_TableName_UsedInTheSource()
    {
        BrokerClientOptions options = new BrokerClientOptions().UseAzureStorageClustering(Azurite.BuildConnectionString(9, 9, 9), "BrokerSilos");

        Assert.Equal($"Azure Table Storage table 'BrokerSilos' at http://127.0.0.1:9/{Azurite.AccountName}", options.GatewayDiscoverySource);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("AccountName=devstoreaccount1;TopSecretKeyMaterial")]
    public void UseAzureStorageClustering_InvalidConnectionString_ThrowsWithoutEchoingIt(string connectionString)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => new BrokerClientOptions().UseAzureStorageClustering(connectionString));

        Assert.StartsWith("The Azure Storage connection string for gateway discovery is ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("TopSecretKeyMaterial", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultTableAndClusterId_MatchTheSiloHost()
    {
        Assert.Equal(AzureStorageBrokerHostingExtensions.DefaultClusteringTableName, AzureStorageClusteringExtensions.DefaultTableName);
        Assert.Equal(SiloHostOptions.DefaultClusterId, BrokerClientOptions.DefaultClusterId);
        Assert.Equal(new SiloHostOptions().ServiceId, BrokerClientOptions.Default.ServiceId);
    }

    [Fact]
    public async Task Obroker_AzureStorageAndGateway_ExitsWith2NamingBoth()
    {
        CliRun run = await CliProcess.RunAsync(AppContext.BaseDirectory, null, "topics", "list", "--azure-storage", Azurite.BuildConnectionString(9, 9, 9), "--gateway", "127.0.0.1:9");

        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Equal("obroker: error: --azure-storage and --gateway are alternatives: give one of them.", run.Stderr.Trim());
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Obroker_InvalidAzureStorage_ExitsWith2WithoutEchoingIt()
    {
        CliRun run = await CliProcess.RunAsync(AppContext.BaseDirectory, null, "topics", "list", "--azure-storage", "AccountName=x;TopSecretKeyMaterial");

        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.StartsWith("obroker: error: The Azure Storage connection string for gateway discovery is not valid;", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("TopSecretKeyMaterial", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Obroker_AzureStorageVariableUnreachable_FailsThroughTheTableNotTheDefaultGateway()
    {
        CliRun run = await CliProcess.RunAsync(
            AppContext.BaseDirectory,
            new Dictionary<string, string> { ["OBROKER_AZURE_STORAGE"] = Azurite.BuildConnectionString(9, 9, 9) },
            "topics", "list", "--connect-timeout-ms", "2000");

        Assert.True(run.ExitCode == 1, run.Describe());
        Assert.StartsWith(
            $"obroker: error: Cannot reach broker through gateways discovered in Azure Table Storage table 'OrleansSiloInstances' at http://127.0.0.1:9/{Azurite.AccountName} within 2 s: ",
            run.Stderr,
            StringComparison.Ordinal);
        Assert.DoesNotContain(Azurite.AccountKey, run.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, Encoding.UTF8.GetString(run.Stdout));
    }
}
