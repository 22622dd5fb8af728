using System.Net;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.SiloHost;

namespace OrleansBroker.DeployTests.Hosting;

/// <summary>The real silo host process: its health endpoint and its refusal to start on incomplete settings.</summary>
[Collection(SiloProcessCollection.Name)]
public sealed class SiloHostProcessTests
{
    /// <summary>A connection string the Azure SDK accepts, pointing at a closed port: these hosts stop before any request.</summary>
    private static readonly string UnreachableStorage = Azurite.BuildConnectionString(9, 9, 9);

    [Fact]
    public async Task HealthEndpoint_SiloStarted_LiveAndReadyAnswer200()
    {
        using var launch = new SiloLaunch("health", healthPort: true);
        await using SiloHostProcess silo = launch.Start();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{launch.HealthPort}"), Timeout = TimeSpan.FromSeconds(10) };

        await silo.WaitStartedAsync(SiloProcessCollection.StartTimeout);

        using HttpResponseMessage live = await http.GetAsync(HealthEndpoints.LivePath);
        using HttpResponseMessage ready = await http.GetAsync(HealthEndpoints.ReadyPath);
        using HttpResponseMessage other = await http.GetAsync("/healthz");
        Assert.True(live.StatusCode == HttpStatusCode.OK, $"live: {live.StatusCode}\n{silo.Output}");
        Assert.Equal("Healthy", await live.Content.ReadAsStringAsync());
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"ready: {ready.StatusCode} {await ready.Content.ReadAsStringAsync()}\n{silo.Output}");
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Contains($"Health             : http://127.0.0.1:{launch.HealthPort}{HealthEndpoints.LivePath} and {HealthEndpoints.ReadyPath}", silo.Output, StringComparison.Ordinal);
        Assert.Contains($"Gateway (clients)  : 127.0.0.1:{launch.GatewayPort}", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_AzureStorageWithoutConnectionString_ExitsWith2AndNamesTheSetting()
    {
        using var launch = new SiloLaunch("no-connection");
        await using SiloHostProcess silo = launch.Start("--Broker:Storage=AzureStorage", "--Broker:Kubernetes=true");

        int exitCode = await silo.WaitExitAsync(SiloProcessCollection.StartTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{silo.Output}");
        Assert.Contains("err: error: ", silo.Output, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:AzureStorage", silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SiloHostProcess.StartedLine, silo.Output, StringComparison.Ordinal);
        Assert.False(silo.Started.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Start_KubernetesWithoutPodNamespace_ExitsWith2NamingPodNamespace()
    {
        // Broker:Kubernetes=true switches UseKubernetesHosting on: its validator needs the pod's namespace.
        using var launch = new SiloLaunch("k8s-no-namespace");
        await using SiloHostProcess silo = launch.Start("--Broker:Storage=AzureStorage", "--Broker:Kubernetes=true", $"--ConnectionStrings:AzureStorage={UnreachableStorage}");

        int exitCode = await silo.WaitExitAsync(SiloProcessCollection.StartTimeout);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{silo.Output}");
        Assert.Contains("err: error: KubernetesHostingOptions.Namespace is not set. Set it via the POD_NAMESPACE environment variable", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KubernetesOutsideACluster_ExitsWith1NamingTheInClusterConfiguration()
    {
        // With the pod's variables set, the hosting package goes on to reach the Kubernetes API, which only exists inside a cluster.
        using var launch = new SiloLaunch("k8s-outside");
        await using SiloHostProcess silo = launch.Start(
            new Dictionary<string, string> { ["POD_NAMESPACE"] = "broker", ["POD_NAME"] = "orleans-broker-0", ["POD_IP"] = "127.0.0.1" },
            "--Broker:Storage=AzureStorage",
            "--Broker:Kubernetes=true",
            $"--ConnectionStrings:AzureStorage={UnreachableStorage}");

        int exitCode = await silo.WaitExitAsync(SiloProcessCollection.StartTimeout);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{silo.Output}");
        Assert.Contains("err: error: the silo did not start: Unable to load in-cluster configuration", silo.Output, StringComparison.Ordinal);
        Assert.Contains("KUBERNETES_SERVICE_HOST", silo.Output, StringComparison.Ordinal);
    }
}
