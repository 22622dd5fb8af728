using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Server;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

[Collection(BrokerClusterCollection.Name)]
public sealed class TopicCatalogGrainTests(BrokerClusterFixture fixture)
{
    private ITopicCatalogGrain Catalog => fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key);

    private static string NewTopicName() => "topic-" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task CreateTopicAsync_ValidTopic_IsDescribedWithBrokerDefaultsAfterDeactivation()
    {
        string name = NewTopicName();

        TopicResult created = await Catalog.CreateTopicAsync(name, 3, settings: null);
        await fixture.Cluster.DeactivateAsync(Catalog);
        TopicResult described = await Catalog.DescribeTopicAsync(name);

        var expected = new TopicDescription(name, 3, new TopicSettings());
        Assert.Equal(new TopicResult(ErrorCode.None, null, expected), created);
        Assert.Equal(new TopicResult(ErrorCode.None, null, expected), described);
    }

    [Fact]
    public async Task CreateTopicAsync_ExplicitSettings_AreStored()
    {
        string name = NewTopicName();
        var settings = new TopicSettings { MaxMessageBytes = 2048, SegmentBytes = 8192, FlushMessages = 1, FlushMs = 0 };

        await Catalog.CreateTopicAsync(name, 1, settings);
        TopicResult described = await Catalog.DescribeTopicAsync(name);

        Assert.Equal(ErrorCode.None, described.Error);
        Assert.Equal(settings, described.Topic!.Settings);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("with space")]
    [InlineData("c:\\evil")]
    public async Task CreateTopicAsync_IllegalName_ReturnsInvalidTopicAndCreatesNothing(string name)
    {
        TopicResult result = await Catalog.CreateTopicAsync(name, 1, settings: null);

        Assert.Equal(ErrorCode.InvalidTopic, result.Error);
        Assert.False(string.IsNullOrEmpty(result.Message));
        Assert.Null(result.Topic);
        Assert.DoesNotContain(await Catalog.ListTopicsAsync(), t => t.Name == name);
        Assert.False(Directory.Exists(Path.Combine(fixture.DataDirectory, "etc")));
    }

    [Fact]
    public async Task CreateTopicAsync_NameTooLong_ReturnsInvalidTopicWithLength()
    {
        TopicResult result = await Catalog.CreateTopicAsync(new string('a', 250), 1, settings: null);

        Assert.Equal(ErrorCode.InvalidTopic, result.Error);
        Assert.Contains("250", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(BrokerOptions.DefaultMaxPartitionsPerTopic + 1)]
    public async Task CreateTopicAsync_PartitionCountOutOfRange_ReturnsInvalidPartitions(int partitions)
    {
        string name = NewTopicName();

        TopicResult result = await Catalog.CreateTopicAsync(name, partitions, settings: null);

        Assert.Equal(ErrorCode.InvalidPartitions, result.Error);
        Assert.Contains(partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, (await Catalog.DescribeTopicAsync(name)).Error);
    }

    [Fact]
    public async Task CreateTopicAsync_MaxPartitions_IsAccepted()
    {
        TopicResult result = await Catalog.CreateTopicAsync(NewTopicName(), BrokerOptions.DefaultMaxPartitionsPerTopic, settings: null);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(BrokerOptions.DefaultMaxPartitionsPerTopic, result.Topic!.PartitionCount);
    }

    [Fact]
    public async Task CreateTopicAsync_BadSettings_ReturnsInvalidConfigNamingEveryProblem()
    {
        string name = NewTopicName();
        var settings = new TopicSettings { MaxMessageBytes = 100, SegmentBytes = 100, FlushMessages = 0, FlushMs = -5 };

        TopicResult result = await Catalog.CreateTopicAsync(name, 1, settings);

        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Contains("MaxMessageBytes is 100", result.Message, StringComparison.Ordinal);
        Assert.Contains("SegmentBytes is 100", result.Message, StringComparison.Ordinal);
        Assert.Contains("FlushMessages is 0", result.Message, StringComparison.Ordinal);
        Assert.Contains("FlushMs is -5", result.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, (await Catalog.DescribeTopicAsync(name)).Error);
    }

    [Fact]
    public async Task CreateTopicAsync_SegmentSmallerThanMaxMessage_ReturnsInvalidConfig()
    {
        TopicResult result = await Catalog.CreateTopicAsync(NewTopicName(), 1, new TopicSettings { MaxMessageBytes = 65536, SegmentBytes = 4096 });

        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Contains("SegmentBytes (4096) is smaller than MaxMessageBytes (65536)", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTopicAsync_Existing_ReturnsTopicAlreadyExistsAndKeepsOriginal()
    {
        string name = NewTopicName();
        await Catalog.CreateTopicAsync(name, 2, settings: null);

        TopicResult again = await Catalog.CreateTopicAsync(name, 5, settings: null);

        Assert.Equal(ErrorCode.TopicAlreadyExists, again.Error);
        Assert.Equal(2, (await Catalog.DescribeTopicAsync(name)).Topic!.PartitionCount);
    }

    [Fact]
    public async Task DescribeTopicAsync_Unknown_ReturnsUnknownTopicOrPartition()
    {
        TopicResult result = await Catalog.DescribeTopicAsync(NewTopicName());

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.Null(result.Topic);
    }

    [Fact]
    public async Task DescribeTopicAsync_IllegalName_ReturnsInvalidTopic()
    {
        TopicResult result = await Catalog.DescribeTopicAsync("../x");

        Assert.Equal(ErrorCode.InvalidTopic, result.Error);
    }

    [Fact]
    public async Task ListTopicsAsync_ReturnsTopicsOrderedByName()
    {
        string prefix = "list-" + Guid.NewGuid().ToString("N")[..8];
        await Catalog.CreateTopicAsync(prefix + "-b", 1, settings: null);
        await Catalog.CreateTopicAsync(prefix + "-a", 1, settings: null);
        await Catalog.CreateTopicAsync(prefix + "-C", 1, settings: null);

        IReadOnlyList<TopicDescription> topics = await Catalog.ListTopicsAsync();

        Assert.Equal(
            new[] { prefix + "-C", prefix + "-a", prefix + "-b" },
            topics.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(t => t.Name).ToArray());
        Assert.Equal(topics.Select(t => t.Name).Order(StringComparer.Ordinal), topics.Select(t => t.Name));
    }
}
