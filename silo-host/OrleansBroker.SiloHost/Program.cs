using System.Globalization;
using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansBroker.Server;
using OrleansBroker.Server.AzureStorage;
using OrleansBroker.SiloHost;
using OrleansBroker.SiloHost.Internal;

// Settings, lowest priority first: appsettings.json beside the executable, appsettings.{Environment}.json, environment variables
// (Broker__GatewayPort=30001, ConnectionStrings__AzureStorage=...), command line (--Broker:GatewayPort 30001). Relative paths
// (Broker:DataDirectory) resolve against the current directory. WebApplication (not the plain host) only for the health endpoint.
WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});

// Check every setting before starting anything, and report all problems at once (the silo validates its options again at start).
SiloHostSettings settings = SiloHostSettings.Read(builder.Configuration);
if (!settings.IsValid)
{
    foreach (string failure in settings.Failures)
    {
        await Console.Error.WriteLineAsync($"error: {failure}");
    }

    return 2;
}

SiloHostOptions hostOptions = settings.Options;
string? connectionString = settings.AzureStorageConnectionString;
bool azureStorage = hostOptions.Storage == BrokerStorageKind.AzureStorage;
bool azureClustering = hostOptions.EffectiveClustering == BrokerClusteringKind.AzureStorage;
IPAddress? configuredAddress = hostOptions.AdvertisedIPAddress is { } configured ? IPAddress.Parse(configured) : null;
IPAddress advertised = configuredAddress ?? IPAddress.Loopback;

// Loopback only unless an address is advertised or Kubernetes hosting is on (the kubelet probes and other pods connect to the pod IP).
bool listenOnAll = configuredAddress is not null || hostOptions.Kubernetes;

// Refuse to start beside another broker: on the same ports (Orleans listens with port reuse, so both would serve) or on the same
// data directory (each partition log is fenced anyway; this fails early with a clear line instead of at the first produce).
IReadOnlyList<string> portsInUse = StartupGuards.FindPortsInUse(
    listenOnAll ? IPAddress.Any : IPAddress.Loopback,
    [("Broker:GatewayPort", hostOptions.GatewayPort), ("Broker:SiloPort", hostOptions.SiloPort), ("Broker:HealthPort", hostOptions.HealthPort)]);
foreach (string failure in portsInUse)
{
    await Console.Error.WriteLineAsync($"error: {failure}");
}

if (portsInUse.Count > 0)
{
    return 1;
}

FileStream? dataDirectoryLock = null;
if (!azureStorage)
{
    string dataDirectory = builder.Configuration[$"{BrokerOptions.SectionName}:{nameof(BrokerOptions.DataDirectory)}"] ?? BrokerOptions.DefaultDataDirectory;
    if (!StartupGuards.TryLockDataDirectory(dataDirectory, out dataDirectoryLock, out string? lockFailure))
    {
        await Console.Error.WriteLineAsync($"error: {lockFailure}");
        return 1;
    }
}

await using FileStream? heldDataDirectoryLock = dataDirectoryLock;

// Graceful stop on SIGINT/SIGTERM: the silo deactivates every partition grain, which flushes its log, snapshots producer state and
// releases its writer lease. A Kubernetes terminationGracePeriodSeconds must be longer than this.
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(SiloHostOptions.ShutdownTimeoutSeconds));
builder.Services.AddOptions<BrokerOptions>().Bind(builder.Configuration.GetSection(BrokerOptions.SectionName));

// Health endpoint (/healthz/live, /healthz/ready) on its own port; port 0: no HTTP listener at all.
builder.Services.AddBrokerHealthChecks();
if (hostOptions.HealthPort > 0)
{
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        if (listenOnAll)
        {
            kestrel.ListenAnyIP(hostOptions.HealthPort);
        }
        else
        {
            kestrel.Listen(IPAddress.Loopback, hostOptions.HealthPort);
        }
    });
}
else
{
    builder.Services.AddSingleton<IServer, NoHttpServer>();
}

builder.UseOrleans(silo =>
{
    if (azureClustering)
    {
        silo.UseOrleansBrokerAzureClustering(connectionString!);
        silo.Configure<EndpointOptions>(o =>
        {
            o.SiloPort = hostOptions.SiloPort;
            o.GatewayPort = hostOptions.GatewayPort;
            if (!hostOptions.Kubernetes || configuredAddress is not null)
            {
                // Under Kubernetes without an explicit address, UseKubernetesHosting advertises POD_IP.
                o.AdvertisedIPAddress = advertised;
            }

            if (listenOnAll)
            {
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, hostOptions.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, hostOptions.GatewayPort);
            }
        });
    }
    else
    {
        silo.UseLocalhostClustering(
            siloPort: hostOptions.SiloPort,
            gatewayPort: hostOptions.GatewayPort,
            primarySiloEndpoint: configuredAddress is null ? null : new IPEndPoint(advertised, hostOptions.SiloPort),
            serviceId: hostOptions.ServiceId,
            clusterId: hostOptions.ClusterId);

        if (configuredAddress is not null)
        {
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = advertised;
                o.SiloPort = hostOptions.SiloPort;
                o.GatewayPort = hostOptions.GatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, hostOptions.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, hostOptions.GatewayPort);
            });
        }
    }

    // Set explicitly: a client with another cluster id is dropped by the silo while its StartAsync keeps retrying.
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = hostOptions.ClusterId;
        o.ServiceId = hostOptions.ServiceId;
    });

    if (hostOptions.Kubernetes)
    {
        // After ClusterOptions, so ORLEANS_CLUSTER_ID / ORLEANS_SERVICE_ID (from the pod's labels) win when set.
        silo.UseKubernetesHosting();
    }

    if (azureStorage)
    {
        AzureStorageBrokerOptions azure = hostOptions.CopyAzureStorage(connectionString);
        silo.AddOrleansBrokerAzureStorage(o =>
        {
            o.ConnectionString = azure.ConnectionString;
            o.LogContainerName = azure.LogContainerName;
            o.GrainStateContainerName = azure.GrainStateContainerName;
            o.LeaseDuration = azure.LeaseDuration;
        });
    }
    else
    {
        silo.AddOrleansBroker();
    }
});

await using WebApplication app = builder.Build();
app.MapBrokerHealthChecks();
try
{
    await app.StartAsync();
}
catch (OptionsValidationException ex)
{
    foreach (string failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync($"error: {failure}");
    }

    return 2;
}
#pragma warning disable CA1031 // The host's last line of defence: one clear line instead of a stack trace.
catch (Exception ex)
#pragma warning restore CA1031
{
    await Console.Error.WriteLineAsync($"error: the silo did not start: {ex.GetBaseException().Message}");
    return 1;
}

// What actually runs, after Kubernetes hosting and the other option sources had their say.
EndpointOptions endpoint = app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
ClusterOptions cluster = app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
string address = endpoint.AdvertisedIPAddress?.ToString() ?? advertised.ToString();
string listenAddress = listenOnAll ? $"{IPAddress.Any} (advertised {address})" : address;
string clustering = azureClustering
    ? $"Azure Table Storage, table {AzureStorageBrokerHostingExtensions.DefaultClusteringTableName} at {new TableServiceClient(connectionString).Uri}"
    : "localhost (a single-silo cluster)";
string storage = azureStorage
    ? $"Azure Storage      : logs in container '{hostOptions.AzureStorage.LogContainerName}', metadata in '{hostOptions.AzureStorage.GrainStateContainerName}' at {new BlobServiceClient(connectionString).Uri}"
    : $"Data directory     : {Path.GetFullPath(app.Services.GetRequiredService<IOptions<BrokerOptions>>().Value.DataDirectory)}";
string health = hostOptions.HealthPort > 0
    ? $"http://{(listenOnAll ? address : IPAddress.Loopback.ToString())}:{hostOptions.HealthPort}{HealthEndpoints.LivePath} and {HealthEndpoints.ReadyPath}"
    : "disabled (Broker:HealthPort is 0)";
string changed = settings.ChangedBrokerSettings is { Count: > 0 } set ? string.Join(", ", set) : "all defaults";
string kubernetes = hostOptions.Kubernetes
    ? $"{Environment.NewLine}      Kubernetes         : on (pod {app.Services.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName})"
    : string.Empty;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

    OrleansBroker silo started
      Gateway (clients)  : {address}:{endpoint.GatewayPort}
      Silo (cluster)     : {address}:{endpoint.SiloPort}
      Listening on       : {listenAddress}
      Cluster id         : {cluster.ClusterId} (service id {cluster.ServiceId})
      Clustering         : {clustering}
      {storage}
      Health             : {health}{kubernetes}
      Broker settings    : {changed}
      Press Ctrl+C (SIGINT) or send SIGTERM to stop gracefully.

    """));

await app.WaitForShutdownAsync();
Console.WriteLine("OrleansBroker silo stopped.");
return 0;
