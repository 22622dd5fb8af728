namespace OrleansBroker.SiloHost;

/// <summary>Where the broker keeps partition logs and metadata (<c>Broker:Storage</c>).</summary>
public enum BrokerStorageKind
{
    /// <summary>Embedded files under <c>Broker:DataDirectory</c> (the default): one machine, or a directory every silo shares.</summary>
    File,

    /// <summary>
    /// Azure Storage: logs on Azure Blob Storage, topic catalog and producer registry in Azure blob grain storage; needs
    /// <c>ConnectionStrings:AzureStorage</c>. Any silo can then serve any partition.
    /// </summary>
    AzureStorage,
}

/// <summary>How silos find each other and clients find gateways (<c>Broker:Clustering</c>).</summary>
public enum BrokerClusteringKind
{
    /// <summary>Orleans localhost (development) clustering: a single-silo cluster, the primary being this silo.</summary>
    Localhost,

    /// <summary>Azure Table Storage membership (table <c>OrleansSiloInstances</c>): any number of silos; needs <c>ConnectionStrings:AzureStorage</c>.</summary>
    AzureStorage,
}
