using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Storage;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Log;
using OrleansBroker.Server;
using OrleansBroker.Server.AzureStorage;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.DeployTests.AzureStorage;

/// <summary><c>AddOrleansBrokerAzureStorage</c>, its options, validators and log-store factory, without a silo or a storage account.</summary>
public sealed class AzureStorageBrokerHostingTests
{
    private static readonly string ConnectionString = Azurite.BuildConnectionString(10000, 10001, 10002);

    [Fact]
    public void Validate_ConnectionStringAndDefaults_Succeeds()
    {
        ValidateOptionsResult result = new AzureStorageBrokerOptionsValidator().Validate(null, new AzureStorageBrokerOptions { ConnectionString = ConnectionString });

        Assert.True(result.Succeeded);
    }

    [Fact]
    public void Validate_NothingSetAndBadValues_ListsEveryFailure()
    {
        var options = new AzureStorageBrokerOptions
        {
            LogContainerName = "same",
            GrainStateContainerName = "same",
            LeaseDuration = TimeSpan.FromSeconds(10),
        };

        ValidateOptionsResult result = new AzureStorageBrokerOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        string[] failures = [.. result.Failures!];
        Assert.Equal(3, failures.Length);
        Assert.Contains("ConnectionStrings:AzureStorage", failures[0], StringComparison.Ordinal);
        Assert.Contains("both 'same'", failures[1], StringComparison.Ordinal);
        Assert.Contains("LeaseDuration is 00:00:10", failures[2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("orleans-broker", true)]
    [InlineData("abc", true)]
    [InlineData("a1-b2-c3", true)]
    [InlineData("ab", false)]
    [InlineData("Orleans", false)]
    [InlineData("-abc", false)]
    [InlineData("abc-", false)]
    [InlineData("a--b", false)]
    [InlineData("a_b", false)]
    [InlineData(null, false)]
    [InlineData("a23456789012345678901234567890123456789012345678901234567890123", true)]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234", false)]
    public void IsValidContainerName_AzureRule_Applied(string? name, bool valid)
    {
        Assert.Equal(valid, AzureStorageBrokerOptionsValidator.IsValidContainerName(name));
    }

    [Fact]
    public void LimitsValidator_MaxMessageBytesAbove4MiB_Fails()
    {
        var validator = new AzureStorageBrokerLimitsValidator();

        Assert.True(validator.Validate(null, new BrokerOptions { MaxMessageBytes = AzureBlobLogStoreOptions.MaxAppendBlockBytes }).Succeeded);
        ValidateOptionsResult tooLarge = validator.Validate(null, new BrokerOptions { MaxMessageBytes = AzureBlobLogStoreOptions.MaxAppendBlockBytes + 1 });
        Assert.Contains("Broker:MaxMessageBytes is 4194305", Assert.Single(tooLarge.Failures!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_LegalTopic_StoreUnderPartitionPrefixInLogContainer()
    {
        AzureBlobLogStoreFactory factory = CreateFactory(new AzureStorageBrokerOptions { ConnectionString = ConnectionString, LogContainerName = "logs-x" });

        await using var store = (AzureBlobLogStore)factory.Create("orders.v2", 3, new PartitionLogOptions());

        Assert.Equal("orders.v2-3", store.Prefix);
        Assert.Equal(AzureBlobLogStore.PartitionPrefix("orders.v2", 3), store.Prefix);
        Assert.Equal("logs-x", factory.Container.Name);
        Assert.Equal("devstoreaccount1", factory.Container.AccountName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("bad topic")]
    public void Create_IllegalTopic_ThrowsArgumentException(string topic)
    {
        AzureBlobLogStoreFactory factory = CreateFactory(new AzureStorageBrokerOptions { ConnectionString = ConnectionString });

        ArgumentException error = Assert.Throws<ArgumentException>(() => factory.Create(topic, 0, new PartitionLogOptions()));
        Assert.Equal("topic", error.ParamName);
    }

    [Fact]
    public void Create_NegativePartition_ThrowsArgumentOutOfRange()
    {
        AzureBlobLogStoreFactory factory = CreateFactory(new AzureStorageBrokerOptions { ConnectionString = ConnectionString });

        Assert.Throws<ArgumentOutOfRangeException>(() => factory.Create("orders", -1, new PartitionLogOptions()));
    }

    [Fact]
    public void Create_TopicMaxMessageBytesAbove4MiB_ThrowsStorageErrorTheGrainReports()
    {
        AzureBlobLogStoreFactory factory = CreateFactory(new AzureStorageBrokerOptions { ConnectionString = ConnectionString });

        LogStorageException error = Assert.Throws<LogStorageException>(
            () => factory.Create("big", 0, new PartitionLogOptions { MaxMessageBytes = 8 << 20, SegmentBytes = 16 << 20 }));
        Assert.Contains("max.message.bytes 8388608", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOrleansBrokerAzureStorage_Services_AzureFactoryAndOneBrokerGrainStorage()
    {
        var services = new ServiceCollection();
        services.AddLogging();

        services.AddOrleansBrokerAzureStorage(o => o.ConnectionString = ConnectionString);
        services.AddOrleansBroker();

        Assert.Single(services, d => d.IsKeyedService && d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, BrokerGrainStorage.ProviderName));
        Assert.Single(services, d => d.ServiceType == typeof(ILogStoreFactory));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.IsType<AzureBlobLogStoreFactory>(provider.GetRequiredService<ILogStoreFactory>());
        Assert.Contains(provider.GetServices<IValidateOptions<BrokerOptions>>(), v => v is AzureStorageBrokerLimitsValidator);
        Assert.Contains(provider.GetServices<IValidateOptions<BrokerOptions>>(), v => v is BrokerOptionsValidator);
        Assert.Equal(ConnectionString, provider.GetRequiredService<IOptions<AzureStorageBrokerOptions>>().Value.ConnectionString);
    }

    [Fact]
    public void AddOrleansBrokerAzureStorage_AfterAddOrleansBroker_ThrowsAndSaysTheOrder()
    {
        var services = new ServiceCollection();
        services.AddOrleansBroker();

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => services.AddOrleansBrokerAzureStorage(o => o.ConnectionString = ConnectionString));
        Assert.Contains("call it instead of AddOrleansBroker, or before it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOrleansBrokerAzureStorage_InvalidOptions_FailValidationAtResolve()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOrleansBrokerAzureStorage(o => o.LogContainerName = "BAD");
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AzureStorageBrokerOptions>>().Value);
        Assert.Equal(2, error.Failures.Count());
    }

    private static AzureBlobLogStoreFactory CreateFactory(AzureStorageBrokerOptions options) =>
        new(Options.Create(options), TimeProvider.System, LoggerFactory.Create(_ => { }));
}
