using Orleans.TestingHost;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// A <see cref="FakeClockClusterFixture"/> whose partitions hold a batch ahead of its sequence for up to 5 s of the fake clock
/// (<see cref="BrokerOptions.ProduceReorderWait"/>), which these tests never advance: a waiting batch is answered only when something
/// wakes it (the batch before it appended, the log failing), never by its wait running out.
/// </summary>
public sealed class ReorderWaitClusterFixture : FakeClockClusterFixture
{
    /// <inheritdoc />
    protected override void ConfigureFaultCluster(TestClusterBuilder builder)
    {
        base.ConfigureFaultCluster(builder);
        builder.Properties[BrokerOptions.SectionName + ":" + nameof(BrokerOptions.ProduceReorderWait)] = "00:00:05";
    }
}

/// <summary>The collection of tests on <see cref="ReorderWaitClusterFixture"/> (their own cluster).</summary>
[CollectionDefinition(Name)]
public sealed class ReorderWaitClusterCollection : ICollectionFixture<ReorderWaitClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "ReorderWaitCluster";
}
