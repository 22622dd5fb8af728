using Orleans.Configuration;
using Orleans.TestingHost;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// A <see cref="FaultClusterFixture"/> for tests that kill silos: 3 silos and fast failure detection
/// (<see cref="FastFailureDetectionConfigurator"/>), so a killed silo is declared dead within about a second. Each collection that kills
/// silos gets its own instance; a test calls <see cref="EnsureSilosAsync"/> first to top the cluster up after an earlier kill.
/// </summary>
public class SiloKillClusterFixture : FaultClusterFixture
{
    /// <summary>Silos a test starts with.</summary>
    public const short Silos = 3;

    /// <inheritdoc />
    protected override short InitialSilos => Silos;

    /// <summary>Starts silos until <see cref="Silos"/> are active.</summary>
    /// <returns>A task that completes when they are.</returns>
    public async Task EnsureSilosAsync()
    {
        int missing = Silos - Cluster.GetActiveSilos().Count();
        if (missing > 0)
        {
            await Wait.ForAsync(Cluster.StartAdditionalSilosAsync(missing), TimeSpan.FromSeconds(20), $"{missing} replacement silo(s) to start");
        }
    }

    /// <summary>A secondary (killable) silo; the primary hosts the test cluster's membership.</summary>
    /// <returns>Its address.</returns>
    public SiloAddress AnySecondarySilo() =>
        Cluster.SecondarySilos.FirstOrDefault(s => s.IsActive)?.SiloAddress ?? throw new InvalidOperationException("No active secondary silo.");

    /// <inheritdoc />
    protected override void ConfigureFaultCluster(TestClusterBuilder builder) =>
        builder.AddSiloBuilderConfigurator<FastFailureDetectionConfigurator>();
}

/// <summary>
/// Cluster membership tuned for tests that kill silos: probes every 200 ms, one missed probe and one vote declare a silo dead
/// (Orleans' defaults take tens of seconds).
/// </summary>
public sealed class FastFailureDetectionConfigurator : ISiloConfigurator
{
    /// <inheritdoc />
    public void Configure(ISiloBuilder siloBuilder)
    {
        ArgumentNullException.ThrowIfNull(siloBuilder);
        siloBuilder.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromMilliseconds(200);
            o.NumMissedProbesLimit = 1;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
            o.EnableIndirectProbes = false;
        });
    }
}

/// <summary>The collection of tests that kill silos (their own 3-silo cluster, run one at a time).</summary>
[CollectionDefinition(Name)]
public sealed class SiloKillCollection : ICollectionFixture<SiloKillClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "SiloKill";
}
