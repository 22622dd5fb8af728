using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// A <see cref="FaultClusterFixture"/> whose silos run grain work on a <see cref="FakeTimeProvider"/> (<see cref="SiloClock"/>): grain
/// timers (the partition's producer-expiry timer) and the broker's clock (producer last-append times) move only when the test advances
/// it, while Orleans' membership, messaging and directory keep real time (<c>UseTimeProviderForBackgroundAreas</c>, Orleans 10).
/// </summary>
/// <remarks>Producer-id expiration is 1 hour and the expiry check runs every minute of the fake clock (<see cref="ProducerIdExpiration"/>,
/// <see cref="ExpirationCheckInterval"/>). Advancing the clock fires the timers of every partition of the cluster: keep tests that depend
/// on the clock in this fixture's collection only. A batch ahead of its producer's sequence is refused at once here
/// (<see cref="BrokerOptions.ProduceReorderWait"/> 0): its wait would run on the fake clock, which these tests do not move for it.</remarks>
public class FakeClockClusterFixture : FaultClusterFixture
{
    /// <summary>The broker's <see cref="BrokerOptions.ProducerIdExpiration"/> in this cluster.</summary>
    public static readonly TimeSpan ProducerIdExpiration = TimeSpan.FromHours(1);

    /// <summary>The broker's <see cref="BrokerOptions.ProducerExpirationCheckInterval"/> in this cluster.</summary>
    public static readonly TimeSpan ExpirationCheckInterval = TimeSpan.FromMinutes(1);

    /// <summary>Creates the fixture with a fake clock starting at the current time.</summary>
    public FakeClockClusterFixture()
        : base(new FakeTimeProvider(DateTimeOffset.UtcNow))
    {
    }

    /// <summary>The silos' grain clock.</summary>
    public FakeTimeProvider SiloClock => Faults.SiloClock!;

    /// <inheritdoc />
    protected override void ConfigureFaultCluster(TestClusterBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Properties[BrokerOptions.SectionName + ":" + nameof(BrokerOptions.ProducerIdExpiration)] = ProducerIdExpiration.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        builder.Properties[BrokerOptions.SectionName + ":" + nameof(BrokerOptions.ProducerExpirationCheckInterval)] = ExpirationCheckInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        builder.Properties[BrokerOptions.SectionName + ":" + nameof(BrokerOptions.ProduceReorderWait)] = "00:00:00";
    }
}

/// <summary>The collection of tests that drive the silos' clock (their own cluster).</summary>
[CollectionDefinition(Name)]
public sealed class FakeClockClusterCollection : ICollectionFixture<FakeClockClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "FakeClockCluster";
}
