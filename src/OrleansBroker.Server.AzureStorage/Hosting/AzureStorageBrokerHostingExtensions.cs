using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Server;
using OrleansBroker.Server.AzureStorage;
using OrleansBroker.Server.AzureStorage.Internal;

namespace Orleans.Hosting;

/// <summary>Runs the broker on Azure Storage: logs on Azure Blob Storage, metadata in Azure blob grain storage, Azure Table clustering.</summary>
public static class AzureStorageBrokerHostingExtensions
{
    /// <summary>Default table of <see cref="UseOrleansBrokerAzureClustering"/>: <c>OrleansSiloInstances</c> (Orleans' default).</summary>
    public const string DefaultClusteringTableName = "OrleansSiloInstances";

    /// <summary>
    /// Adds the broker with its data in Azure Storage, then the broker itself (<c>AddOrleansBroker</c>, which it calls, so one call
    /// is enough): <see cref="AzureStorageBrokerOptions"/> (validated at start by <see cref="AzureStorageBrokerOptionsValidator"/>),
    /// the <see cref="ILogStoreFactory"/> <see cref="AzureBlobLogStoreFactory"/> (replacing any other), and Azure blob grain storage
    /// named <see cref="BrokerGrainStorage.ProviderName"/> for the topic catalog and the producer registry, serialized with the
    /// Orleans serializer (the state types' <c>[Id]</c> members) in <see cref="AzureStorageBrokerOptions.GrainStateContainerName"/>.
    /// Also checks at start that <see cref="BrokerOptions.MaxMessageBytes"/> is at most 4 MiB (one append block).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="configure">Sets the connection string (or client), containers and lease.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">Another grain storage is already registered as <see cref="BrokerGrainStorage.ProviderName"/>
    /// (for example <c>AddOrleansBroker</c> was called first and registered the file storage): call this method instead of, or before,
    /// <c>AddOrleansBroker</c>.</exception>
    public static ISiloBuilder AddOrleansBrokerAzureStorage(this ISiloBuilder builder, Action<AzureStorageBrokerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        _ = builder.Services.AddOrleansBrokerAzureStorage(configure);
        return builder;
    }

    /// <summary>The <see cref="IServiceCollection"/> form of <see cref="AddOrleansBrokerAzureStorage(ISiloBuilder, Action{AzureStorageBrokerOptions})"/>.</summary>
    /// <param name="services">The silo's services.</param>
    /// <param name="configure">Sets the connection string (or client), containers and lease.</param>
    /// <returns>The services.</returns>
    /// <exception cref="InvalidOperationException">Another grain storage is already registered as <see cref="BrokerGrainStorage.ProviderName"/>.</exception>
    public static IServiceCollection AddOrleansBrokerAzureStorage(this IServiceCollection services, Action<AzureStorageBrokerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        if (services.Any(IsBrokerGrainStorage))
        {
            throw new InvalidOperationException(
                $"A grain storage named '{BrokerGrainStorage.ProviderName}' is already registered, so the broker's metadata would not go to Azure Storage. "
                + "AddOrleansBrokerAzureStorage calls AddOrleansBroker itself: call it instead of AddOrleansBroker, or before it.");
        }

        _ = services.AddOptions<AzureStorageBrokerOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureStorageBrokerOptions>, AzureStorageBrokerOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, AzureStorageBrokerLimitsValidator>());
        services.TryAddSingleton<AzureStorageBrokerClients>();
        services.TryAddSingleton(TimeProvider.System);
        _ = services.Replace(ServiceDescriptor.Singleton<ILogStoreFactory>(static sp => new AzureBlobLogStoreFactory(
            sp.GetRequiredService<IOptions<AzureStorageBrokerOptions>>(),
            sp.GetRequiredService<AzureStorageBrokerClients>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>())));

        _ = services.AddAzureBlobGrainStorage(BrokerGrainStorage.ProviderName, static (OptionsBuilder<AzureBlobStorageOptions> blob) =>
            blob.Configure<AzureStorageBrokerClients, IOptions<AzureStorageBrokerOptions>, Serializer>(static (o, clients, broker, serializer) =>
            {
                o.BlobServiceClient = clients.BlobService;
                o.ContainerName = broker.Value.GrainStateContainerName;
                o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));

        return services.AddOrleansBroker();
    }

    /// <summary>
    /// Uses Azure Table Storage for cluster membership (<c>UseAzureStorageClustering</c>): silos find each other and clients find
    /// gateways in <paramref name="tableName"/>, rows keyed by <c>ClusterOptions.ClusterId</c>. Needed for more than one silo, and with
    /// <c>UseKubernetesHosting</c>, which provides no membership.
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="connectionString">Azure Storage connection string of an account with the table service.</param>
    /// <param name="tableName">The membership table; <c>null</c>: <see cref="DefaultClusteringTableName"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">The connection string is empty.</exception>
    public static ISiloBuilder UseOrleansBrokerAzureClustering(this ISiloBuilder builder, string connectionString, string? tableName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.UseAzureStorageClustering(o =>
        {
            o.TableServiceClient = new TableServiceClient(connectionString);
            o.TableName = tableName ?? DefaultClusteringTableName;
        });
    }

    private static bool IsBrokerGrainStorage(ServiceDescriptor descriptor) =>
        descriptor.IsKeyedService
        && descriptor.ServiceType == typeof(IGrainStorage)
        && Equals(descriptor.ServiceKey, BrokerGrainStorage.ProviderName);
}
