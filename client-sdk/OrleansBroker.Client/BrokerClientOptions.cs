using Microsoft.Extensions.Logging;
using Orleans.Hosting;

namespace OrleansBroker.Client;

/// <summary>How a <see cref="BrokerClient"/> reaches the broker's Orleans cluster.</summary>
public sealed record BrokerClientOptions
{
    /// <summary>Default gateway: the silo host's default gateway port on loopback.</summary>
    public const string DefaultGateway = "127.0.0.1:30000";

    /// <summary>Default <see cref="ClusterId"/> and <see cref="ServiceId"/>: the silo host's values.</summary>
    public const string DefaultClusterId = "orleans-broker";

    /// <summary>The defaults.</summary>
    public static BrokerClientOptions Default { get; } = new();

    /// <summary>
    /// Gateways as <c>host:port</c> (<c>[::1]:30000</c> for IPv6). Host names are resolved with DNS at connect time, IPv4 first.
    /// Used when <see cref="GatewayDiscovery"/> is <see cref="Client.GatewayDiscovery.Static"/> (the default); must be empty when it is
    /// <see cref="Client.GatewayDiscovery.Clustering"/>.
    /// </summary>
    public IReadOnlyList<string> Gateways { get; init; } = [DefaultGateway];

    /// <summary>
    /// How the client finds gateways: <see cref="Client.GatewayDiscovery.Static"/> (default) from <see cref="Gateways"/>, or
    /// <see cref="Client.GatewayDiscovery.Clustering"/> through the clustering provider that <see cref="ConfigureClient"/> sets up
    /// (e.g. Azure Table Storage with <c>UseAzureStorageClustering</c> from <c>OrleansBroker.Client.AzureStorage</c>).
    /// </summary>
    public GatewayDiscovery GatewayDiscovery { get; init; } = GatewayDiscovery.Static;

    /// <summary>
    /// Where the gateways are discovered, for error messages when <see cref="GatewayDiscovery"/> is
    /// <see cref="Client.GatewayDiscovery.Clustering"/> (e.g. <c>Azure Table Storage table 'OrleansSiloInstances' at https://…</c>);
    /// never holds secrets. <c>null</c>: "the configured clustering provider".
    /// </summary>
    public string? GatewayDiscoverySource { get; init; }

    /// <summary>Orleans <c>ClusterOptions.ClusterId</c>; must match the silo's, or the silo drops the connection.</summary>
    public string ClusterId { get; init; } = DefaultClusterId;

    /// <summary>Orleans <c>ClusterOptions.ServiceId</c>; must match the silo's.</summary>
    public string ServiceId { get; init; } = DefaultClusterId;

    /// <summary>Wait between reconnection attempts to a gateway (Orleans <c>ConnectionOptions.ConnectionRetryDelay</c>). Default 200 ms.</summary>
    public TimeSpan ConnectionRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long <see cref="BrokerClient.ConnectAsync"/> keeps trying to reach a gateway before it throws
    /// <see cref="BrokerConnectionException"/>. Default 30 s.
    /// </summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Per-call deadline of admin calls (Kafka's <c>request.timeout.ms</c>). Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Logger factory for the client and its producers and consumers; <c>null</c>: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Extra configuration of the Orleans client built by <see cref="BrokerClient.ConnectAsync"/> (applied last).</summary>
    public Action<IClientBuilder>? ConfigureClient { get; init; }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid; the message lists all of them.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (GatewayDiscovery == GatewayDiscovery.Clustering)
        {
            if (ConfigureClient is null)
            {
                errors.Add("GatewayDiscovery is Clustering, but ConfigureClient is null, so nothing tells the client where to find gateways: "
                    + "configure the Orleans client's clustering in ConfigureClient (e.g. options.UseAzureStorageClustering(connectionString) "
                    + "from OrleansBroker.Client.AzureStorage), or use GatewayDiscovery Static with Gateways.");
            }

            if (Gateways is { Count: > 0 })
            {
                errors.Add($"Gateways ({string.Join(", ", Gateways)}) must be empty when GatewayDiscovery is Clustering: the clustering provider finds the gateways; "
                    + "set Gateways = [] or use GatewayDiscovery Static.");
            }
        }
        else if (GatewayDiscovery != GatewayDiscovery.Static)
        {
            errors.Add($"GatewayDiscovery {(int)GatewayDiscovery} is not a known value (Static or Clustering).");
        }
        else if (Gateways is null || Gateways.Count == 0)
        {
            errors.Add("No gateway and no gateway discovery: set Gateways to at least one gateway (host:port), "
                + "or discover gateways through the cluster's membership table (e.g. options.UseAzureStorageClustering(connectionString) "
                + "from OrleansBroker.Client.AzureStorage, which sets GatewayDiscovery to Clustering).");
        }
        else
        {
            foreach (string g in Gateways)
            {
                if (!Internal.GatewayAddress.TryParse(g, out _, out _, out string? reason))
                {
                    errors.Add(reason!);
                }
            }
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            errors.Add("ClusterId must not be empty (the silo host uses \"orleans-broker\").");
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            errors.Add("ServiceId must not be empty (the silo host uses \"orleans-broker\").");
        }

        if (ConnectionRetryDelay <= TimeSpan.Zero)
        {
            errors.Add("ConnectionRetryDelay must be positive.");
        }

        if (StartupTimeout <= TimeSpan.Zero)
        {
            errors.Add("StartupTimeout must be positive.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add("RequestTimeout must be positive.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid BrokerClientOptions: " + string.Join(" ", errors));
        }
    }
}
