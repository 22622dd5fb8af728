using OrleansBroker.Client;
using OrleansBroker.ClusterTests.BadInput;

namespace OrleansBroker.ClusterTests.Client;

/// <summary><see cref="AdminClient.CreateTopicAsync"/> on a real silo: the topic's partition logs exist when it returns.</summary>
[Collection(BadInputCollection.Name)]
public sealed class CreateTopicClusterTests(BadInputFixture fixture)
{
    [Fact]
    public async Task CreateTopicAsync_ReturnsWithEveryPartitionLogOpenOnDisk()
    {
        string topic = $"opened-{Guid.NewGuid():N}";

        TopicDescription created = await fixture.Broker.Admin.CreateTopicAsync(topic, 3);

        Assert.Equal(3, created.PartitionCount);
        for (int p = 0; p < 3; p++)
        {
            string directory = Path.Combine(fixture.TopicsDirectory, $"{topic}-{p}");
            Assert.True(Directory.Exists(directory), $"{directory} does not exist");
            Assert.Contains(Directory.GetFiles(directory), f => f.EndsWith(".log", StringComparison.Ordinal));
        }

        WatermarkOffsets offsets = await fixture.Broker.Admin.ListOffsetsAsync(new TopicPartition(topic, 2));
        Assert.Equal(new WatermarkOffsets(0, 0), offsets);
    }
}
