using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.ClusterTests.Faults;

/// <summary>
/// The fault workload's cluster: 3 silos with fast failure detection and fault injection (<see cref="SiloKillClusterFixture"/>). Tests kill
/// and stop silos, so each starts with <see cref="SiloKillClusterFixture.EnsureSilosAsync"/> and ends with <see cref="FaultController.Reset"/>.
/// </summary>
public sealed class FaultWorkloadFixture : SiloKillClusterFixture
{
}

/// <summary>The fault workload tests: their own 3-silo cluster, one test at a time.</summary>
[CollectionDefinition(Name)]
public sealed class FaultWorkloadCollection : ICollectionFixture<FaultWorkloadFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "FaultWorkload";
}
