using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansBroker.Client;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>The DI registration of <see cref="BrokerClient"/>.</summary>
public sealed class HostingTests
{
    [Fact]
    public void AddOrleansBrokerClient_ResolvedBeforeHostStart_ThrowsInvalidOperation()
    {
        var services = new ServiceCollection();
        services.AddOrleansBrokerClient(o => o with { Gateways = ["127.0.0.1:1"] });
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Single(provider.GetServices<IHostedService>());
        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<BrokerClient>());
        Assert.Contains("StartAsync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOrleansBrokerClient_InvalidOptions_ThrowsAtRegistration()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentException>(() => services.AddOrleansBrokerClient(o => o with { Gateways = [] }));
    }
}
