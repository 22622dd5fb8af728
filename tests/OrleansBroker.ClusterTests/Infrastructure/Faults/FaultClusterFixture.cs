using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// A <see cref="BrokerClusterFixture"/> (2 silos, shared temporary data directory) with fault injection wired in: <see cref="Faults"/> is
/// the cluster's <see cref="FaultController"/>. Subclasses change the silo count, add configurators in <see cref="ConfigureFaultCluster"/>
/// or pass a fake silo clock to the constructor.
/// </summary>
public class FaultClusterFixture : BrokerClusterFixture, IAsyncLifetime
{
    /// <summary>Creates the fixture with the system clock in the silos.</summary>
    public FaultClusterFixture()
        : this(siloClock: null)
    {
    }

    /// <summary>Creates the fixture.</summary>
    /// <param name="siloClock">The silos' grain clock (see <see cref="FaultController.SiloClock"/>), or null for the system clock.</param>
    protected FaultClusterFixture(FakeTimeProvider? siloClock)
    {
        Faults = new FaultController(siloClock);
    }

    /// <summary>The cluster's fault plan.</summary>
    public FaultController Faults { get; }

    /// <inheritdoc />
    protected sealed override void ConfigureCluster(TestClusterBuilder builder)
    {
        builder.AddFaultInjection(Faults);
        ConfigureFaultCluster(builder);
    }

    /// <summary>Adjusts the cluster further (properties, configurators), after fault injection is wired in.</summary>
    /// <param name="builder">The builder.</param>
    protected virtual void ConfigureFaultCluster(TestClusterBuilder builder)
    {
    }

    /// <inheritdoc />
    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    /// <summary>Releases every gate, stops the cluster, then unregisters the controller.</summary>
    /// <returns>A task that completes when done.</returns>
    async Task IAsyncLifetime.DisposeAsync()
    {
        try
        {
            Faults.Reset();
            await base.DisposeAsync();
        }
        finally
        {
            Faults.Dispose();
        }
    }
}

/// <summary>The collection of scenario tests sharing one <see cref="FaultClusterFixture"/> (2 silos, nothing killed).</summary>
[CollectionDefinition(Name)]
public sealed class FaultClusterCollection : ICollectionFixture<FaultClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "FaultCluster";
}
