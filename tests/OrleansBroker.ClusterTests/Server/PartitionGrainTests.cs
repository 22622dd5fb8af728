using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

/// <summary>The partition grain's answers when it has no log to serve (no dependency on the log implementation).</summary>
[Collection(BrokerClusterCollection.Name)]
public sealed class PartitionGrainTests(BrokerClusterFixture fixture)
{
    [Fact]
    public async Task ProduceAsync_UnknownTopic_ReturnsUnknownTopicOrPartitionAndCreatesNoDirectory()
    {
        string topic = "missing-" + Guid.NewGuid().ToString("N");
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);

        ProduceResult produce = await partition.ProduceAsync(new byte[61]);
        FetchResult fetch = await partition.FetchAsync(0, 1024);
        PartitionOffsets offsets = await partition.ListOffsetsAsync();

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, produce.Error);
        Assert.Equal(-1, produce.BaseOffset);
        Assert.Contains(topic, produce.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, fetch.Error);
        Assert.Empty(fetch.Records);
        Assert.Equal(new PartitionOffsets(ErrorCode.UnknownTopicOrPartition, -1, -1, -1), offsets);
        Assert.False(Directory.Exists(Path.Combine(fixture.DataDirectory, "topics", topic + "-0")));
    }

    [Fact]
    public async Task ProduceAsync_PartitionBeyondCount_ReturnsUnknownTopicOrPartition()
    {
        string topic = "two-" + Guid.NewGuid().ToString("N");
        TopicResult created = await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).CreateTopicAsync(topic, 2, settings: null);
        Assert.Equal(ErrorCode.None, created.Error);

        ProduceResult result = await fixture.GrainFactory.GetGrain<IPartitionGrain>(2, topic).ProduceAsync(new byte[61]);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.Contains("2 partitions", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../../escape")]
    [InlineData("a/b")]
    public async Task ProduceAsync_IllegalTopicName_ReturnsUnknownTopicOrPartitionAndTouchesNoPath(string topic)
    {
        ProduceResult result = await fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic).ProduceAsync(new byte[61]);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.False(Directory.Exists(Path.Combine(fixture.DataDirectory, "escape-0")));
        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(fixture.DataDirectory)!, "escape-0")));
    }
}
