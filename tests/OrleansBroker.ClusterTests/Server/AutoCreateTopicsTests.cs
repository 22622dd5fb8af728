using Orleans.TestingHost;
using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

/// <summary>A one-silo cluster with <c>Broker:AutoCreateTopics</c> on and <c>Broker:DefaultPartitions</c> 3, set through configuration.</summary>
public sealed class AutoCreateBrokerClusterFixture : BrokerClusterFixture
{
    protected override short InitialSilos => 1;

    protected override void ConfigureCluster(TestClusterBuilder builder)
    {
        builder.Properties["Broker:AutoCreateTopics"] = "true";
        builder.Properties["Broker:DefaultPartitions"] = "3";
    }
}

[CollectionDefinition(Name)]
public sealed class AutoCreateBrokerClusterCollection : ICollectionFixture<AutoCreateBrokerClusterFixture>
{
    public const string Name = "AutoCreateBrokerCluster";
}

[Collection(AutoCreateBrokerClusterCollection.Name)]
public sealed class AutoCreateTopicsTests(AutoCreateBrokerClusterFixture fixture)
{
    [Fact]
    public async Task ListOffsetsAsync_UnknownTopicWithAutoCreate_CreatesTopicWithDefaultPartitions()
    {
        string topic = "auto-" + Guid.NewGuid().ToString("N");

        PartitionOffsets offsets = await fixture.GrainFactory.GetGrain<IPartitionGrain>(1, topic).ListOffsetsAsync();
        TopicResult described = await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).DescribeTopicAsync(topic);

        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 0, 0), offsets);
        Assert.Equal(ErrorCode.None, described.Error);
        Assert.Equal(3, described.Topic!.PartitionCount);
    }

    [Fact]
    public async Task ProduceAsync_AutoCreatedTopicPartitionBeyondDefault_ReturnsUnknownTopicOrPartition()
    {
        string topic = "auto-" + Guid.NewGuid().ToString("N");

        ProduceResult result = await fixture.GrainFactory.GetGrain<IPartitionGrain>(3, topic).ProduceAsync(new byte[61]);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.Equal(3, (await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).DescribeTopicAsync(topic)).Topic!.PartitionCount);
    }

    [Fact]
    public async Task ProduceAsync_IllegalTopicNameWithAutoCreate_CreatesNothing()
    {
        ProduceResult result = await fixture.GrainFactory.GetGrain<IPartitionGrain>(0, "bad/name").ProduceAsync(new byte[61]);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.DoesNotContain(await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).ListTopicsAsync(), t => t.Name.Contains('/', StringComparison.Ordinal));
    }
}
