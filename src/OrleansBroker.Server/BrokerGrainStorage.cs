namespace OrleansBroker.Server;

/// <summary>Names of the grain storage the broker's durable grains (topic catalog, producer registry) use.</summary>
public static class BrokerGrainStorage
{
    /// <summary>
    /// Name of the grain storage provider holding the topic catalog and the producer registry: <c>"broker"</c>. <c>AddOrleansBroker</c>
    /// registers <see cref="FileGrainStorage"/> under this name unless an <c>IGrainStorage</c> is already registered with it, so another durable
    /// provider (e.g. Azure Blob) can replace it by being registered under this name first. It must be durable: a reissued producer id breaks dedup.
    /// </summary>
    public const string ProviderName = "broker";

    /// <summary>Name of the folder under <see cref="BrokerOptions.DataDirectory"/> holding <see cref="FileGrainStorage"/>'s files.</summary>
    public const string FolderName = "grain-state";
}
