using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansBroker.Server;
using OrleansBroker.SiloHost;

// Settings, lowest priority first: appsettings.json beside the executable, appsettings.{Environment}.json, environment variables
// (Broker__GatewayPort=30001), command line (--Broker:GatewayPort 30001). Relative paths (Broker:DataDirectory) resolve against the
// current directory.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});

IConfigurationSection brokerSection = builder.Configuration.GetSection(BrokerOptions.SectionName);
SiloHostOptions hostOptions = brokerSection.Get<SiloHostOptions>() ?? new SiloHostOptions();

// Check every setting before starting anything, and report all problems at once (the silo validates BrokerOptions again at start).
List<string> failures = [.. hostOptions.Validate()];
ValidateOptionsResult brokerValidation = new BrokerOptionsValidator().Validate(null, brokerSection.Get<BrokerOptions>() ?? new BrokerOptions());
if (brokerValidation.Failed)
{
    failures.AddRange(brokerValidation.Failures ?? []);
}

if (failures.Count > 0)
{
    foreach (string failure in failures)
    {
        await Console.Error.WriteLineAsync($"error: {failure}");
    }

    return 2;
}

IPAddress advertised = hostOptions.AdvertisedIPAddress is { } configured ? IPAddress.Parse(configured) : IPAddress.Loopback;

// Graceful stop on SIGINT/SIGTERM: the silo deactivates every partition grain, which flushes its log and snapshots producer state.
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
builder.Services.AddOptions<BrokerOptions>().Bind(brokerSection);

builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(
        siloPort: hostOptions.SiloPort,
        gatewayPort: hostOptions.GatewayPort,
        primarySiloEndpoint: hostOptions.AdvertisedIPAddress is null ? null : new IPEndPoint(advertised, hostOptions.SiloPort),
        serviceId: hostOptions.ServiceId,
        clusterId: hostOptions.ClusterId);

    // Set explicitly: a client with another cluster id is dropped by the silo while its StartAsync keeps retrying.
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = hostOptions.ClusterId;
        o.ServiceId = hostOptions.ServiceId;
    });

    if (hostOptions.AdvertisedIPAddress is not null)
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

    silo.AddOrleansBroker();
});

using IHost host = builder.Build();
try
{
    await host.StartAsync();
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

string dataDirectory = Path.GetFullPath(host.Services.GetRequiredService<IOptions<BrokerOptions>>().Value.DataDirectory);
string listenAddress = hostOptions.AdvertisedIPAddress is null ? advertised.ToString() : $"{IPAddress.Any} (advertised {advertised})";
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

    OrleansBroker silo started
      Gateway (clients)  : {advertised}:{hostOptions.GatewayPort}
      Silo (cluster)     : {advertised}:{hostOptions.SiloPort}
      Listening on       : {listenAddress}
      Cluster id         : {hostOptions.ClusterId} (service id {hostOptions.ServiceId})
      Data directory     : {dataDirectory}
      Press Ctrl+C (SIGINT) or send SIGTERM to stop gracefully.

    """));

await host.WaitForShutdownAsync();
Console.WriteLine("OrleansBroker silo stopped.");
return 0;
