using Orleans.TestingHost;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>
/// One silo with <c>Broker:AutoCreateTopics</c> on, so a hostile name that slipped through validation would be created on disk
/// by the partition grain: the bad-input tests prove it is not. The data directory belongs to this collection alone, so its
/// listing before and after a call is exact.
/// </summary>
public sealed class BadInputFixture : BrokerClusterFixture
{
    private BrokerClient? _broker;

    /// <summary>Full path of <c>{DataDirectory}/topics</c>.</summary>
    public string TopicsDirectory => Path.Combine(DataDirectory, FileLogStoreFactory.TopicsFolderName);

    /// <summary>An SDK client over the cluster's client (not owned: the cluster stops it).</summary>
    public BrokerClient Broker => _broker ??= BrokerClient.FromClusterClient(Client, new BrokerClientOptions { RequestTimeout = TimeSpan.FromSeconds(10) });

    /// <inheritdoc />
    protected override short InitialSilos => 1;

    /// <inheritdoc />
    protected override void ConfigureCluster(TestClusterBuilder builder)
    {
        builder.Properties[BrokerOptions.SectionName + ":" + nameof(BrokerOptions.AutoCreateTopics)] = "true";
    }
}

/// <summary>The bad-input tests: one cluster, run one test at a time so directory listings are exact.</summary>
[CollectionDefinition(Name)]
public sealed class BadInputCollection : ICollectionFixture<BadInputFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "BadInput";
}
