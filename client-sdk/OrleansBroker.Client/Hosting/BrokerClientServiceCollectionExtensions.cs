using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Client;

/// <summary>Registers a <see cref="BrokerClient"/> in a DI container.</summary>
public static class BrokerClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="BrokerClient"/> singleton that connects with <see cref="BrokerClient.ConnectAsync"/> when the host
    /// starts (a hosted service) and disconnects when it stops. Resolving it before the host has started throws
    /// <see cref="InvalidOperationException"/>. The client logs through the container's <see cref="ILoggerFactory"/> unless the
    /// options name one.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Returns the options to use from the defaults, e.g. <c>o =&gt; o with { Gateways = ["broker:30000"] }</c>;
    /// a function rather than an action because the options are an immutable record.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddOrleansBrokerClient(this IServiceCollection services, Func<BrokerClientOptions, BrokerClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        BrokerClientOptions options = configure?.Invoke(BrokerClientOptions.Default) ?? BrokerClientOptions.Default;
        options.Validate();
        services.AddSingleton(sp => new BrokerClientHostedService(options.LoggerFactory is null ? options with { LoggerFactory = sp.GetService<ILoggerFactory>() } : options));
        services.AddHostedService(sp => sp.GetRequiredService<BrokerClientHostedService>());
        services.AddSingleton(sp => sp.GetRequiredService<BrokerClientHostedService>().Client);
        return services;
    }

    /// <summary>
    /// Registers a <see cref="BrokerClient"/> singleton over the container's own <see cref="IClusterClient"/> (the application
    /// runs an Orleans client, or is a silo, of the broker's cluster). See <see cref="BrokerClient.FromClusterClient"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Returns the options to use from the defaults (request timeout, logger factory).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddOrleansBrokerClientFromClusterClient(this IServiceCollection services, Func<BrokerClientOptions, BrokerClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        BrokerClientOptions options = configure?.Invoke(BrokerClientOptions.Default) ?? BrokerClientOptions.Default;
        services.AddSingleton(sp => BrokerClient.FromClusterClient(sp.GetRequiredService<IClusterClient>(), options));
        return services;
    }

    /// <summary>Connects the broker client when the host starts and disposes it when the host stops.</summary>
    private sealed class BrokerClientHostedService(BrokerClientOptions options) : IHostedService
    {
        private BrokerClient? _client;

        public BrokerClient Client => _client ?? throw new InvalidOperationException("The BrokerClient is connected when the host starts; resolve it after IHost.StartAsync.");

        public async Task StartAsync(CancellationToken cancellationToken) =>
            _client = await BrokerClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_client is { } client)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
