using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>Wires a <see cref="FaultController"/> into a <see cref="TestClusterBuilder"/>.</summary>
public static class FaultInjection
{
    /// <summary>
    /// Puts the controller's key into the cluster configuration and adds <see cref="FaultSiloConfigurator"/> (incoming fault filter,
    /// outgoing-call observer, fault-injecting log store factory, optional fake grain clock) and <see cref="FaultClientConfigurator"/>
    /// (client-side fault filter).
    /// </summary>
    /// <param name="builder">The cluster builder; the silos must also call <c>AddOrleansBroker</c> (in either order).</param>
    /// <param name="controller">The controller the test drives.</param>
    /// <returns>The builder.</returns>
    public static TestClusterBuilder AddFaultInjection(this TestClusterBuilder builder, FaultController controller)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(controller);
        builder.Properties[FaultController.KeyProperty] = controller.Key;
        builder.AddSiloBuilderConfigurator<FaultSiloConfigurator>();
        builder.AddClientBuilderConfigurator<FaultClientConfigurator>();
        return builder;
    }
}

/// <summary>
/// Silo side of <see cref="FaultInjection.AddFaultInjection"/>: registers <see cref="SiloFaultFilter"/>, <see cref="SiloOutgoingObserver"/>,
/// <see cref="FaultInjectingLogStoreFactory"/> over <see cref="FileLogStoreFactory"/> (replacing whatever <see cref="ILogStoreFactory"/> is
/// registered, before or after <c>AddOrleansBroker</c>) and, when the controller has a <see cref="FaultController.SiloClock"/>, that clock as
/// the default <see cref="TimeProvider"/> with Orleans' background areas pinned to the system clock.
/// </summary>
public sealed class FaultSiloConfigurator : ISiloConfigurator
{
    /// <inheritdoc />
    public void Configure(ISiloBuilder siloBuilder)
    {
        ArgumentNullException.ThrowIfNull(siloBuilder);
        FaultController controller = FaultController.Get(siloBuilder.Configuration[FaultController.KeyProperty]);
        IServiceCollection services = siloBuilder.Services;
        services.AddSingleton(controller);
        siloBuilder.AddIncomingGrainCallFilter<SiloFaultFilter>();
        siloBuilder.AddOutgoingGrainCallFilter<SiloOutgoingObserver>();

        services.AddSingleton<FileLogStoreFactory>();
        RemoveUnkeyed<ILogStoreFactory>(services);
        services.AddSingleton<ILogStoreFactory>(sp => new FaultInjectingLogStoreFactory(
            sp.GetRequiredService<FileLogStoreFactory>(), controller.Storage, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress));

        if (controller.SiloClock is { } clock)
        {
            // Grain timers (TimeProviderNames.Grains) and every broker component resolve the default provider; Orleans' own loops
            // (membership, messaging timeouts, directory) stay on real time, so advancing the fake clock fires only grain work.
            RemoveUnkeyed<TimeProvider>(services);
            services.AddSingleton<TimeProvider>(clock);
            services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
        }
    }

    private static void RemoveUnkeyed<T>(IServiceCollection services)
    {
        for (int i = services.Count - 1; i >= 0; i--)
        {
            if (services[i].ServiceType == typeof(T) && !services[i].IsKeyedService)
            {
                services.RemoveAt(i);
            }
        }
    }
}

/// <summary>Client side of <see cref="FaultInjection.AddFaultInjection"/>: registers <see cref="ClientFaultFilter"/>.</summary>
public sealed class FaultClientConfigurator : IClientBuilderConfigurator
{
    /// <inheritdoc />
    public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(clientBuilder);
        FaultController controller = FaultController.Get(configuration[FaultController.KeyProperty]);
        clientBuilder.AddOutgoingGrainCallFilter(new ClientFaultFilter(controller));
    }
}
