using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Infrastructure;

/// <summary>
/// One in-process <see cref="TestCluster"/> (2 silos by default) per xUnit collection, both silos running <c>AddOrleansBroker</c> on one
/// shared temporary data directory, which is deleted afterwards. Broker options come from the <c>Broker:*</c> entries of
/// <see cref="TestClusterBuilder.Properties"/>; subclasses change them, the silo count or add configurators in <see cref="ConfigureCluster"/>.
/// </summary>
public class BrokerClusterFixture : IAsyncLifetime
{
    /// <summary>Configuration key of the data directory handed to every silo.</summary>
    public const string DataDirectoryKey = BrokerOptions.SectionName + ":" + nameof(BrokerOptions.DataDirectory);

    private TestCluster? _cluster;

    /// <summary>Creates the fixture; the cluster starts in <see cref="InitializeAsync"/>.</summary>
    public BrokerClusterFixture()
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "obroker-cluster-" + Guid.NewGuid().ToString("N"));
    }

    /// <summary>The data directory every silo shares.</summary>
    public string DataDirectory { get; }

    /// <summary>Silos started by <see cref="InitializeAsync"/>. Default 2.</summary>
    protected virtual short InitialSilos => 2;

    /// <summary>The running cluster.</summary>
    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not started yet.");

    /// <summary>The cluster's client.</summary>
    public IClusterClient Client => Cluster.Client;

    /// <summary>The cluster's grain factory.</summary>
    public IGrainFactory GrainFactory => Cluster.GrainFactory;

    /// <summary>The broker's grain storage on the primary silo (every silo's reads the same directory).</summary>
    /// <returns>The storage provider registered under <see cref="BrokerGrainStorage.ProviderName"/>.</returns>
    public IGrainStorage GetBrokerGrainStorage() =>
        Cluster.GetSiloServiceProvider((Cluster.Primary ?? throw new InvalidOperationException("No primary silo.")).SiloAddress).GetRequiredKeyedService<IGrainStorage>(BrokerGrainStorage.ProviderName);

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        var builder = new TestClusterBuilder(InitialSilos);
        builder.Properties[DataDirectoryKey] = DataDirectory;
        builder.AddSiloBuilderConfigurator<BrokerSiloConfigurator>();
        ConfigureCluster(builder);
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            try
            {
                await _cluster.StopAllSilosAsync();
            }
            finally
            {
                await _cluster.DisposeAsync();
            }
        }

        DeleteDataDirectory();
    }

    /// <summary>Adjusts the cluster before it is built: add <c>Broker:*</c> properties, configurators, silos.</summary>
    /// <param name="builder">The builder, with the data directory and <see cref="BrokerSiloConfigurator"/> already set.</param>
    protected virtual void ConfigureCluster(TestClusterBuilder builder)
    {
    }

    private void DeleteDataDirectory()
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(DataDirectory))
                {
                    Directory.Delete(DataDirectory, recursive: true);
                }

                return;
            }
            catch (IOException) when (attempt < 2)
            {
                // A file handle may be released a moment after the silos stop; try again.
            }
            catch (UnauthorizedAccessException) when (attempt < 2)
            {
            }
        }
    }
}

/// <summary>Configures each test silo: binds <c>Broker:*</c> from the cluster's properties and calls <c>AddOrleansBroker</c>.</summary>
public sealed class BrokerSiloConfigurator : ISiloConfigurator
{
    /// <inheritdoc />
    public void Configure(ISiloBuilder siloBuilder)
    {
        siloBuilder.Services.AddOptions<BrokerOptions>().Bind(siloBuilder.Configuration.GetSection(BrokerOptions.SectionName));
        siloBuilder.AddOrleansBroker();
    }
}

/// <summary>The collection of tests sharing one <see cref="BrokerClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class BrokerClusterCollection : ICollectionFixture<BrokerClusterFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "BrokerCluster";
}
