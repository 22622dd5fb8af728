using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace OrleansBroker.SiloHost;

/// <summary>
/// The silo host's HTTP health endpoint, served on <see cref="SiloHostOptions.HealthPort"/> for Kubernetes probes and load balancers:
/// <see cref="LivePath"/> answers 200 while the process runs; <see cref="ReadyPath"/> answers 200 once the silo has started and the topic
/// catalog grain answers a call (which also proves the metadata storage is reachable), and 503 before, while stopping, or when the call
/// fails, reports a storage error, or takes longer than <see cref="ReadyTimeout"/>. The body is the status word (<c>Healthy</c>, <c>Unhealthy</c>).
/// </summary>
public static class HealthEndpoints
{
    /// <summary>Liveness path: <c>/healthz/live</c>.</summary>
    public const string LivePath = "/healthz/live";

    /// <summary>Readiness path: <c>/healthz/ready</c>.</summary>
    public const string ReadyPath = "/healthz/ready";

    /// <summary>Health-check tag of the liveness checks.</summary>
    public const string LiveTag = "live";

    /// <summary>Health-check tag of the readiness checks.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Longest the readiness check waits for the topic catalog: 5 s.</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Registers the checks: <c>process</c> (tag <see cref="LiveTag"/>) and <c>silo</c> (tag <see cref="ReadyTag"/>).</summary>
    /// <param name="services">The host's services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddBrokerHealthChecks(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.AddHealthChecks()
            .AddCheck("process", static () => HealthCheckResult.Healthy("The process is running."), tags: [LiveTag])
            .AddCheck<SiloReadinessCheck>("silo", failureStatus: HealthStatus.Unhealthy, tags: [ReadyTag], timeout: ReadyTimeout);
        return services;
    }

    /// <summary>Maps <see cref="LivePath"/> and <see cref="ReadyPath"/>, each running the checks of its tag.</summary>
    /// <param name="endpoints">The application's routes.</param>
    /// <returns>The routes.</returns>
    public static IEndpointRouteBuilder MapBrokerHealthChecks(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        _ = endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = static r => r.Tags.Contains(LiveTag) });
        _ = endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = static r => r.Tags.Contains(ReadyTag) });
        return endpoints;
    }

    /// <summary>Ready when the host has started (the silo with it), is not stopping, and the topic catalog grain answers.</summary>
    private sealed class SiloReadinessCheck(IHostApplicationLifetime lifetime, IGrainFactory grains) : IHealthCheck
    {
        /// <summary>A legal topic name that is looked up, not created: any answer, found or not, proves the catalog serves.</summary>
        private const string ProbeTopic = "__orleans_broker_readiness";

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!lifetime.ApplicationStarted.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy("The silo is starting.");
            }

            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy("The silo is stopping.");
            }

            TopicResult answer = await grains.GetGrain<ITopicCatalogGrain>(0).DescribeTopicAsync(ProbeTopic).WaitAsync(cancellationToken);
            return answer.Error is ErrorCode.UnknownTopicOrPartition or ErrorCode.None
                ? HealthCheckResult.Healthy("The topic catalog answered.")
                : HealthCheckResult.Unhealthy($"The topic catalog answered {answer.Error}: {answer.Message}");
        }
    }
}
