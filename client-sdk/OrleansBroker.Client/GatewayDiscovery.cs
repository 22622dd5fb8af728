namespace OrleansBroker.Client;

/// <summary>How <see cref="BrokerClient.ConnectAsync"/> finds the broker's gateways (<see cref="BrokerClientOptions.GatewayDiscovery"/>).</summary>
public enum GatewayDiscovery
{
    /// <summary>
    /// The default: the fixed list in <see cref="BrokerClientOptions.Gateways"/> (Orleans static clustering), which must name at least
    /// one gateway.
    /// </summary>
    Static = 0,

    /// <summary>
    /// The Orleans client's own clustering provider finds the gateways, configured by <see cref="BrokerClientOptions.ConfigureClient"/>
    /// (for example <c>UseAzureStorageClustering</c> from the <c>OrleansBroker.Client.AzureStorage</c> package, which sets this value):
    /// the client reads the live gateways from the cluster's membership table and follows it as silos come and go.
    /// <see cref="BrokerClientOptions.Gateways"/> must then be empty.
    /// </summary>
    Clustering = 1,
}
