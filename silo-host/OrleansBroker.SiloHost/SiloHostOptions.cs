using System.Net;

namespace OrleansBroker.SiloHost;

/// <summary>
/// Where the silo listens and which cluster it belongs to, bound from the <c>"Broker"</c> section (the same section as the broker's own
/// options), so <c>--Broker:GatewayPort 30001</c> works on the command line. Localhost clustering: a single-machine cluster whose primary
/// silo is this one.
/// </summary>
public sealed class SiloHostOptions
{
    /// <summary>Default <see cref="SiloPort"/>: 11111 (Orleans' default silo-to-silo port).</summary>
    public const int DefaultSiloPort = 11111;

    /// <summary>Default <see cref="GatewayPort"/>: 30000 (Orleans' default client gateway port).</summary>
    public const int DefaultGatewayPort = 30000;

    /// <summary>Default <see cref="ClusterId"/> and <see cref="ServiceId"/>: <c>"orleans-broker"</c>. Clients must use the same values.</summary>
    public const string DefaultClusterId = "orleans-broker";

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

    /// <summary>Checks the values and lists every problem with what to set.</summary>
    /// <returns>The problems; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
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

        return failures;
    }
}
