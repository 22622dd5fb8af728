using Orleans.TestingHost;
using OrleansBroker.Client;
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

    [Fact]
    public async Task Produce_SdkToUnknownTopicWithAutoCreate_TopicCreatedWithDefaultPartitionsAndRecordAcknowledged()
    {
        // Found by a new user: the SDK asked the catalog for the topic's metadata first, was told it did not exist, and failed before
        // any call reached a partition (the only place that auto-created): the setting did nothing for clients.
        string topic = "auto-sdk-" + Guid.NewGuid().ToString("N");
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);
        await using Producer producer = client.CreateProducer(new ProducerOptions { LingerMs = 0, DeliveryTimeout = TimeSpan.FromSeconds(30) });

        DeliveryResult ack = await producer.ProduceAsync(new TopicPartition(topic, 2), Message.FromString("first")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((2, 0L, false), (ack.Partition, ack.Offset, ack.IsDuplicate));
        Assert.Equal(3, (await client.Admin.DescribeTopicAsync(topic)).PartitionCount);
    }

    [Fact]
    public async Task GetTopicMetadataAsync_AdminWithAutoCreate_CreatesTheTopicButDescribeDoesNot()
    {
        string described = "auto-describe-" + Guid.NewGuid().ToString("N");
        string metadata = "auto-metadata-" + Guid.NewGuid().ToString("N");
        await using BrokerClient client = BrokerClient.FromClusterClient(fixture.Client);

        AdminException error = await Assert.ThrowsAsync<AdminException>(() => client.Admin.DescribeTopicAsync(described));
        TopicDescription created = await client.Admin.GetTopicMetadataAsync(metadata);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, error.ErrorCode); // an administrative describe never creates
        Assert.Equal((metadata, 3), (created.Name, created.PartitionCount));
        Assert.Equal([metadata], (await client.Admin.ListTopicsAsync()).Select(t => t.Name).Where(n => n == metadata || n == described));
    }

    [Fact]
    public async Task GetTopicMetadataAsync_AutoCreationNotAllowedByTheCaller_ReturnsUnknownTopic()
    {
        string topic = "auto-not-allowed-" + Guid.NewGuid().ToString("N");
        ITopicCatalogGrain catalog = fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key);

        TopicResult result = await catalog.GetTopicMetadataAsync(topic, allowAutoTopicCreation: false);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, (await catalog.DescribeTopicAsync(topic)).Error);
    }
}
