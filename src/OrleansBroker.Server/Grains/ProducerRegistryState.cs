namespace OrleansBroker.Server.Grains;

/// <summary>Durable state of the producer registry (grain storage <see cref="BrokerGrainStorage.ProviderName"/>, state name "producer-registry").</summary>
[GenerateSerializer]
[Alias("OrleansBroker.Server.ProducerRegistryState")]
internal sealed class ProducerRegistryState
{
    /// <summary>
    /// First PID of the next block not yet reserved. Every PID below it was reserved by a durable write and is never issued again;
    /// after a restart issuing resumes here, so the unused rest of a partly used block is skipped.
    /// </summary>
    [Id(0)]
    public long NextBlockStart { get; set; }

    /// <summary>Current epoch of every PID whose epoch is not 0 (bumped by KIP-360), and of every PID bound to a producer identity.</summary>
    [Id(1)]
    public Dictionary<long, short> Epochs { get; set; } = [];

    /// <summary>Stable producer identity → its PID (its epoch is in <see cref="Epochs"/>).</summary>
    [Id(2)]
    public Dictionary<string, long> Identities { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Durable state of the topic catalog (grain storage <see cref="BrokerGrainStorage.ProviderName"/>, state name "topic-catalog").</summary>
[GenerateSerializer]
[Alias("OrleansBroker.Server.TopicCatalogState")]
internal sealed class TopicCatalogState
{
    /// <summary>Every topic, by name.</summary>
    [Id(0)]
    public Dictionary<string, TopicDescription> Topics { get; set; } = new(StringComparer.Ordinal);
}
