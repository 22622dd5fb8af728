using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansBroker.Client.Internal;

namespace OrleansBroker.Client;

/// <summary>
/// Entry point of the SDK: a connection to the broker's Orleans cluster, and the factory of producers, consumers and the
/// admin client. Keep one for the life of the process: the Orleans client reconnects by itself.
/// </summary>
public sealed class BrokerClient : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly IBrokerTransport _transport;
    private readonly IHost? _host;
    private readonly ConnectionMonitor? _monitor;
    private readonly ILoggerFactory? _loggerFactory;
    private int _disposed;

    private BrokerClient(IBrokerTransport transport, BrokerClientOptions options, IClusterClient? clusterClient, IHost? host, ConnectionMonitor? monitor, ILoggerFactory? loggerFactory)
    {
        _transport = transport;
        Options = options;
        ClusterClient = clusterClient;
        _host = host;
        _monitor = monitor;
        _loggerFactory = loggerFactory;
        Admin = new AdminClient(transport, options.RequestTimeout);
    }

    /// <summary>Creates a client over a transport (tests).</summary>
    internal BrokerClient(IBrokerTransport transport, BrokerClientOptions? options = null)
        : this(transport, options ?? BrokerClientOptions.Default, null, null, null, options?.LoggerFactory)
    {
    }

    /// <summary>The options in use.</summary>
    public BrokerClientOptions Options { get; }

    /// <summary>The Orleans client underneath; <c>null</c> only for test clients.</summary>
    public IClusterClient? ClusterClient { get; }

    /// <summary>The admin client: create, list and describe topics.</summary>
    public AdminClient Admin { get; }

    /// <summary>
    /// Builds and starts an Orleans client with the broker's <c>ClusterOptions</c>, retrying the connection for up to
    /// <see cref="BrokerClientOptions.StartupTimeout"/>. Gateways come from static clustering on <see cref="BrokerClientOptions.Gateways"/>
    /// (<see cref="GatewayDiscovery.Static"/>, the default) or from the clustering provider that
    /// <see cref="BrokerClientOptions.ConfigureClient"/> sets up (<see cref="GatewayDiscovery.Clustering"/>).
    /// </summary>
    /// <param name="options">Connection settings; <c>null</c>: <see cref="BrokerClientOptions.Default"/> (127.0.0.1:30000).</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A connected client that owns its Orleans client and stops it on <see cref="DisposeAsync"/>.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="BrokerConnectionException">No gateway answered within the startup timeout, or a host name does not resolve.</exception>
    public static async Task<BrokerClient> ConnectAsync(BrokerClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= BrokerClientOptions.Default;
        options.Validate();
        bool discover = options.GatewayDiscovery == GatewayDiscovery.Clustering;
        System.Net.IPEndPoint[] endpoints = discover ? [] : await GatewayAddress.ResolveAsync(options.Gateways, cancellationToken).ConfigureAwait(false);

        var monitor = new ConnectionMonitor();
        long started = Stopwatch.GetTimestamp();
        Exception? lastError = null;
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (options.LoggerFactory is { } loggerFactory)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        builder.UseOrleansClient(client =>
        {
            if (!discover)
            {
                client.UseStaticClustering(endpoints);
            }

            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            client.Configure<ConnectionOptions>(o => o.ConnectionRetryDelay = options.ConnectionRetryDelay);
            client.UseConnectionRetryFilter(async (exception, token) =>
            {
                lastError = exception;
                if (Stopwatch.GetElapsedTime(started) + options.ConnectionRetryDelay >= options.StartupTimeout)
                {
                    return false;
                }

                await Task.Delay(options.ConnectionRetryDelay, token).ConfigureAwait(false);
                return true;
            });
            client.AddClusterConnectionLostHandler((_, _) => monitor.NotifyConnectionLost());
            options.ConfigureClient?.Invoke(client);
        });

        IHost host = builder.Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.StartupTimeout);
        try
        {
            await host.StartAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await DisposeHostAsync(host).ConfigureAwait(false);
            monitor.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            Exception cause = lastError ?? ex;
            throw new BrokerConnectionException(
                $"Cannot reach broker {(discover ? "through gateways discovered in " + (options.GatewayDiscoverySource ?? "the configured clustering provider") : "at " + string.Join(", ", options.Gateways))} within {options.StartupTimeout.TotalSeconds:0.#} s: {cause.Message.Split('\n')[0].Trim()} (is the silo host running, and do ClusterId/ServiceId '{options.ClusterId}'/'{options.ServiceId}' match the silo's?)",
                cause);
        }

        IClusterClient cluster = host.Services.GetRequiredService<IClusterClient>();
        return new BrokerClient(new GrainBrokerTransport(cluster, monitor), options, cluster, host, monitor, options.LoggerFactory);
    }

    /// <summary>
    /// Wraps an Orleans client that the application already runs (e.g. from its DI container). The broker client does not
    /// own it: <see cref="DisposeAsync"/> leaves it running. In-flight calls are bounded by the per-call deadlines only,
    /// since the connection-lost event of a foreign client is not observed.
    /// </summary>
    /// <param name="clusterClient">A started Orleans client of the broker's cluster.</param>
    /// <param name="options">Settings used for admin calls and logging; gateway settings are ignored.</param>
    /// <returns>The broker client.</returns>
    public static BrokerClient FromClusterClient(IClusterClient clusterClient, BrokerClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(clusterClient);
        options ??= BrokerClientOptions.Default;
        ILoggerFactory? loggerFactory = options.LoggerFactory ?? clusterClient.ServiceProvider.GetService<ILoggerFactory>();
        return new BrokerClient(new GrainBrokerTransport(clusterClient, null), options, clusterClient, null, null, loggerFactory);
    }

    /// <summary>Creates a producer.</summary>
    /// <param name="options">Producer settings; <c>null</c>: <see cref="ProducerOptions.Default"/>.</param>
    /// <returns>The producer; dispose it to flush and stop it.</returns>
    /// <exception cref="ArgumentException">The options are invalid (e.g. more than 5 in flight with idempotence).</exception>
    public Producer CreateProducer(ProducerOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return new Producer(_transport, options, _loggerFactory);
    }

    /// <summary>Creates a consumer with no assignment.</summary>
    /// <param name="options">Consumer settings; <c>null</c>: <see cref="ConsumerOptions.Default"/>.</param>
    /// <returns>The consumer.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public Consumer CreateConsumer(ConsumerOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return new Consumer(_transport, options, _loggerFactory);
    }

    /// <summary>Stops the Orleans client when this object owns it (see <see cref="ConnectAsync"/>). Dispose producers first.</summary>
    /// <returns>A task that completes when the client is stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_host is not null)
        {
            await DisposeHostAsync(_host).ConfigureAwait(false);
        }

        _monitor?.Dispose();
    }

    private static async Task DisposeHostAsync(IHost host)
    {
        try
        {
            using var stop = new CancellationTokenSource(StopTimeout);
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Stopping a client that never connected may throw; the host is disposed anyway.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            host.Dispose();
        }
    }
}
