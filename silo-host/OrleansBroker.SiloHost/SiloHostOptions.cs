using System.Net;
using OrleansBroker.Server.AzureStorage;

namespace OrleansBroker.SiloHost;

/// <summary>
/// Where the silo listens, which cluster it belongs to, where it stores data and how it is hosted, bound from the <c>"Broker"</c> section
/// (the same section as the broker's own options), so <c>--Broker:GatewayPort 30001</c> works on the command line and
/// <c>Broker__GatewayPort=30001</c> in the environment. Defaults: embedded file storage and localhost clustering, a single-machine
/// cluster whose primary silo is this one.
/// </summary>
public sealed class SiloHostOptions
{
    /// <summary>Default <see cref="SiloPort"/>: 11111 (Orleans' default silo-to-silo port).</summary>
    public const int DefaultSiloPort = 11111;

    /// <summary>Default <see cref="GatewayPort"/>: 30000 (Orleans' default client gateway port).</summary>
    public const int DefaultGatewayPort = 30000;

    /// <summary>Default <see cref="ClusterId"/> and <see cref="ServiceId"/>: <c>"orleans-broker"</c>. Clients must use the same values.</summary>
    public const string DefaultClusterId = "orleans-broker";

    /// <summary>Default <see cref="HealthPort"/>: 8080.</summary>
    public const int DefaultHealthPort = 8080;

    /// <summary>
    /// How long a graceful stop (SIGTERM, Ctrl+C) may take, in seconds (<c>HostOptions.ShutdownTimeout</c>): 30. Partition grains flush
    /// and snapshot their producer state and release their log leases meanwhile. A Kubernetes <c>terminationGracePeriodSeconds</c> must be
    /// longer.
    /// </summary>
    public const int ShutdownTimeoutSeconds = 30;

    /// <summary>Name of the connection string read for Azure Storage: <c>ConnectionStrings:AzureStorage</c> (environment <c>ConnectionStrings__AzureStorage</c>).</summary>
    public const string AzureStorageConnectionStringName = "AzureStorage";

    /// <summary>Port for silo-to-silo traffic. Default 11111.</summary>
    public int SiloPort { get; set; } = DefaultSiloPort;

    /// <summary>Port clients connect to (the gateway). Default 30000.</summary>
    public int GatewayPort { get; set; } = DefaultGatewayPort;

    /// <summary>Orleans cluster id (<c>ClusterOptions.ClusterId</c>). Default "orleans-broker".</summary>
    public string ClusterId { get; set; } = DefaultClusterId;

    /// <summary>Orleans service id (<c>ClusterOptions.ServiceId</c>), stable across deployments. Default "orleans-broker".</summary>
    public string ServiceId { get; set; } = DefaultClusterId;

    /// <summary>
    /// Address the silo advertises to clients and other silos. Unset (default): 127.0.0.1, listening on loopback only. When set, the silo
    /// listens on all interfaces and advertises this address.
    /// </summary>
    public string? AdvertisedIPAddress { get; set; }

    /// <summary>Where partition logs and metadata live: <see cref="BrokerStorageKind.File"/> (default) or <see cref="BrokerStorageKind.AzureStorage"/>.</summary>
    public BrokerStorageKind Storage { get; set; } = BrokerStorageKind.File;

    /// <summary>
    /// Membership: <see cref="BrokerClusteringKind.Localhost"/> or <see cref="BrokerClusteringKind.AzureStorage"/>. Unset (default): Azure
    /// Storage when <see cref="Storage"/> is Azure Storage, else localhost. See <see cref="EffectiveClustering"/>.
    /// </summary>
    public BrokerClusteringKind? Clustering { get; set; }

    /// <summary>
    /// When true, the silo runs under Kubernetes (Orleans' <c>UseKubernetesHosting</c>): silo name from <c>POD_NAME</c>, advertised
    /// address from <c>POD_IP</c> (unless <see cref="AdvertisedIPAddress"/> is set), listening on all interfaces, cluster and service id from
    /// <c>ORLEANS_CLUSTER_ID</c>/<c>ORLEANS_SERVICE_ID</c> when set, and silos whose pod was deleted are declared dead. It provides no
    /// membership, so <see cref="EffectiveClustering"/> must be Azure Storage. Default false. Explicit on purpose: the POD_* variables
    /// alone do not switch it on.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>
    /// HTTP port of the health endpoint (<c>/healthz/live</c>, <c>/healthz/ready</c>); 0 disables it. Bound on 127.0.0.1 like the silo, or
    /// on all interfaces when <see cref="AdvertisedIPAddress"/> is set or <see cref="Kubernetes"/> is true. Default 8080.
    /// </summary>
    public int HealthPort { get; set; } = DefaultHealthPort;

    /// <summary>Containers and lease when <see cref="Storage"/> is Azure Storage (section <c>Broker:AzureStorage</c>). The connection string is
    /// not read from here but from <c>ConnectionStrings:AzureStorage</c>.</summary>
    public AzureStorageBrokerOptions AzureStorage { get; set; } = new();

    /// <summary>The clustering in force: <see cref="Clustering"/> when set, else Azure Storage when <see cref="Storage"/> is, else localhost.</summary>
    public BrokerClusteringKind EffectiveClustering =>
        Clustering ?? (Storage == BrokerStorageKind.AzureStorage ? BrokerClusteringKind.AzureStorage : BrokerClusteringKind.Localhost);

    /// <summary>Checks the values and lists every problem with what to set, as if no Azure Storage connection string were given.</summary>
    /// <returns>The problems; empty when valid.</returns>
    public IReadOnlyList<string> Validate() => Validate(azureStorageConnectionString: null);

    /// <summary>Checks the values and lists every problem with what to set.</summary>
    /// <param name="azureStorageConnectionString">The value of <c>ConnectionStrings:AzureStorage</c>, or <c>null</c>.</param>
    /// <returns>The problems; empty when valid.</returns>
    public IReadOnlyList<string> Validate(string? azureStorageConnectionString)
    {
        var failures = new List<string>();
        if (SiloPort is < 1 or > 65535)
        {
            failures.Add($"Broker:SiloPort is {SiloPort}; set it to a TCP port between 1 and 65535 (default {DefaultSiloPort}).");
        }

        if (GatewayPort is < 1 or > 65535)
        {
            failures.Add($"Broker:GatewayPort is {GatewayPort}; set it to a TCP port between 1 and 65535 (default {DefaultGatewayPort}).");
        }

        if (SiloPort == GatewayPort)
        {
            failures.Add($"Broker:SiloPort and Broker:GatewayPort are both {SiloPort}; set them to different ports.");
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            failures.Add($"Broker:ClusterId is empty; set it (default '{DefaultClusterId}').");
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            failures.Add($"Broker:ServiceId is empty; set it (default '{DefaultClusterId}').");
        }

        if (AdvertisedIPAddress is { } address && !IPAddress.TryParse(address, out _))
        {
            failures.Add($"Broker:AdvertisedIPAddress '{address}' is not an IP address; set an IPv4 or IPv6 address, or leave it unset for 127.0.0.1.");
        }

        if (HealthPort is < 0 or > 65535)
        {
            failures.Add($"Broker:HealthPort is {HealthPort}; set it to a TCP port between 1 and 65535, or 0 to disable the health endpoint (default {DefaultHealthPort}).");
        }
        else if (HealthPort != 0 && (HealthPort == SiloPort || HealthPort == GatewayPort))
        {
            failures.Add($"Broker:HealthPort is {HealthPort}, the same as Broker:SiloPort or Broker:GatewayPort; set a different port, or 0 to disable it.");
        }

        bool azureClustering = EffectiveClustering == BrokerClusteringKind.AzureStorage;
        if (Storage == BrokerStorageKind.AzureStorage)
        {
            // The library's validator names ConnectionStrings:AzureStorage when it is missing or unreadable, and checks containers and lease.
            AzureStorageBrokerOptions candidate = CopyAzureStorage(azureStorageConnectionString);
            var result = new AzureStorageBrokerOptionsValidator().Validate(null, candidate);
            if (result.Failed)
            {
                failures.AddRange(result.Failures);
            }
        }
        else if (azureClustering)
        {
            if (string.IsNullOrWhiteSpace(azureStorageConnectionString))
            {
                failures.Add($"Broker:Clustering is AzureStorage, but no connection string is set: set ConnectionStrings:{AzureStorageConnectionStringName} "
                    + $"(--ConnectionStrings:{AzureStorageConnectionStringName} \"...\" or environment ConnectionStrings__{AzureStorageConnectionStringName}).");
            }
            else if (AzureStorageBrokerOptionsValidator.DescribeConnectionStringProblem(azureStorageConnectionString) is { } problem)
            {
                failures.Add($"The Azure Storage connection string (ConnectionStrings:{AzureStorageConnectionStringName}) is not valid: {problem}");
            }
        }

        if (Kubernetes && !azureClustering)
        {
            failures.Add("Broker:Kubernetes is true, but Broker:Clustering is Localhost: Kubernetes hosting provides no membership; "
                + $"set Broker:Clustering=AzureStorage (or Broker:Storage=AzureStorage) and ConnectionStrings:{AzureStorageConnectionStringName}.");
        }

        return failures;
    }

    /// <summary>A copy of <see cref="AzureStorage"/> with the connection string in force.</summary>
    /// <param name="connectionString">The value of <c>ConnectionStrings:AzureStorage</c>.</param>
    /// <returns>The options the silo runs with.</returns>
    public AzureStorageBrokerOptions CopyAzureStorage(string? connectionString) => new()
    {
        ConnectionString = connectionString,
        BlobServiceClient = AzureStorage.BlobServiceClient,
        LogContainerName = AzureStorage.LogContainerName,
        GrainStateContainerName = AzureStorage.GrainStateContainerName,
        LeaseDuration = AzureStorage.LeaseDuration,
    };
}
