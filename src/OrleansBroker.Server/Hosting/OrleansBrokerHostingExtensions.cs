using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansBroker.Server;

namespace Orleans.Hosting;

/// <summary>Registers the broker's grains, options, log-store factory and durable grain storage on a silo.</summary>
public static class OrleansBrokerHostingExtensions
{
    /// <summary>
    /// Adds the broker to a silo: <see cref="BrokerOptions"/> (validated at start by <see cref="BrokerOptionsValidator"/>), a
    /// <see cref="TimeProvider"/> (<see cref="TimeProvider.System"/> unless one is registered), the default <see cref="ILogStoreFactory"/>
    /// (<see cref="FileLogStoreFactory"/>, unless one is registered) and the durable grain storage
    /// <see cref="BrokerGrainStorage.ProviderName"/> (<see cref="FileGrainStorage"/> in <c>{DataDirectory}/grain-state</c>, unless one is registered
    /// under that name).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="configure">Sets options; applied after any configuration binding already registered for <see cref="BrokerOptions"/>.</param>
    /// <returns>The builder.</returns>
    public static ISiloBuilder AddOrleansBroker(this ISiloBuilder builder, Action<BrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        _ = builder.Services.AddOrleansBroker(configure);
        return builder;
    }

    /// <summary>The <see cref="IServiceCollection"/> form of <see cref="AddOrleansBroker(ISiloBuilder, Action{BrokerOptions}?)"/>.</summary>
    /// <param name="services">The silo's services.</param>
    /// <param name="configure">Sets options, or <c>null</c>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOrleansBroker(this IServiceCollection services, Action<BrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        OptionsBuilder<BrokerOptions> options = services.AddOptions<BrokerOptions>();
        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILogStoreFactory, FileLogStoreFactory>();

        bool storageRegistered = services.Any(d => d.IsKeyedService
            && d.ServiceType == typeof(IGrainStorage)
            && Equals(d.ServiceKey, BrokerGrainStorage.ProviderName));
        if (!storageRegistered)
        {
            _ = services.AddGrainStorage(BrokerGrainStorage.ProviderName, static (sp, name) =>
            {
                BrokerOptions broker = sp.GetRequiredService<IOptions<BrokerOptions>>().Value;
                string directory = Path.Combine(Path.GetFullPath(broker.DataDirectory), BrokerGrainStorage.FolderName);
                return new FileGrainStorage(name, directory, sp.GetRequiredService<IActivatorProvider>(), sp.GetRequiredService<ILogger<FileGrainStorage>>());
            });
        }

        return services;
    }
}
