using System.Buffers.Binary;
using System.Text;
using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Protocol;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

/// <summary>The partition grain over the real file log: acknowledgements, duplicates across reactivation, fetch and offsets.</summary>
[Collection(BrokerClusterCollection.Name)]
public sealed class PartitionGrainLogTests(BrokerClusterFixture fixture)
{
    private const long Timestamp = 1_700_000_000_000;

    [Fact]
    public async Task ProduceAsync_RetriedBatchAfterPartitionReactivation_IsDuplicateWithOriginalOffset()
    {
        string topic = await CreateTopicAsync();
        InitProducerIdResult producer = await fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key).InitProducerIdAsync(new InitProducerIdRequest());
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        byte[] first = Batch(producer.ProducerId, 0, baseSequence: 0, "a", "b");
        byte[] second = Batch(producer.ProducerId, 0, baseSequence: 2, "c", "d");

        ProduceResult firstAck = await partition.ProduceAsync(first.ToArray());
        ProduceResult firstRetry = await partition.ProduceAsync(first.ToArray());
        ProduceResult secondAck = await partition.ProduceAsync(second.ToArray());
        await fixture.Cluster.DeactivateAsync(partition);
        ProduceResult secondRetry = await partition.ProduceAsync(second.ToArray());

        Assert.Equal(new ProduceResult(ErrorCode.None, 0, Timestamp + 1, 0, false, -1, -1, null), firstAck);
        Assert.Equal(new ProduceResult(ErrorCode.None, 0, Timestamp + 1, 0, true, -1, -1, null), firstRetry);
        Assert.Equal(new ProduceResult(ErrorCode.None, 2, Timestamp + 1, 0, false, -1, -1, null), secondAck);
        Assert.Equal(new ProduceResult(ErrorCode.None, 2, Timestamp + 1, 0, true, -1, -1, null), secondRetry);

        FetchResult fetch = await partition.FetchAsync(0, 1 << 20);
        Assert.Equal(ErrorCode.None, fetch.Error);
        Assert.Equal(4, fetch.HighWatermark);
        Assert.Equal(0, fetch.LogStartOffset);
        Assert.Equal([.. WithBaseOffset(first, 0), .. WithBaseOffset(second, 2)], fetch.Records);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 4, 4), await partition.ListOffsetsAsync());
        Assert.True(Directory.Exists(Path.Combine(fixture.DataDirectory, "topics", topic + "-0")));
    }

    [Fact]
    public async Task ProduceAsync_SequenceGap_ReturnsOutOfOrderWithExpectedSequenceAndWritesNothing()
    {
        string topic = await CreateTopicAsync();
        InitProducerIdResult producer = await fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key).InitProducerIdAsync(new InitProducerIdRequest());
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await partition.ProduceAsync(Batch(producer.ProducerId, 0, 0, "a"));

        ProduceResult gap = await partition.ProduceAsync(Batch(producer.ProducerId, 0, 5, "x"));

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, gap.Error);
        Assert.Equal(1, gap.ExpectedSequence);
        Assert.Equal(-1, gap.BaseOffset);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 1, 1), await partition.ListOffsetsAsync());
    }

    [Fact]
    public async Task ProduceAsync_OlderEpochAfterBump_ReturnsInvalidProducerEpochWithCurrentEpoch()
    {
        string topic = await CreateTopicAsync();
        IProducerRegistryGrain registry = fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key);
        InitProducerIdResult producer = await registry.InitProducerIdAsync(new InitProducerIdRequest());
        InitProducerIdResult bumped = await registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, producer.ProducerEpoch));
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await partition.ProduceAsync(Batch(bumped.ProducerId, bumped.ProducerEpoch, 0, "new"));

        ProduceResult zombie = await partition.ProduceAsync(Batch(producer.ProducerId, producer.ProducerEpoch, 1, "old"));

        Assert.Equal(ErrorCode.InvalidProducerEpoch, zombie.Error);
        Assert.Equal(bumped.ProducerEpoch, zombie.CurrentEpoch);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 1, 1), await partition.ListOffsetsAsync());
    }

    [Fact]
    public async Task ProduceAsync_CorruptedBatch_ReturnsCorruptMessage()
    {
        string topic = await CreateTopicAsync();
        byte[] batch = Batch(-1, -1, -1, "v");
        batch[^1] ^= 0xFF;

        ProduceResult result = await fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic).ProduceAsync(batch);

        Assert.Equal(ErrorCode.CorruptMessage, result.Error);
    }

    [Fact]
    public async Task FetchAsync_BeyondHighWatermark_ReturnsOffsetOutOfRange()
    {
        string topic = await CreateTopicAsync();
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, topic);
        await partition.ProduceAsync(Batch(-1, -1, -1, "v"));

        FetchResult beyond = await partition.FetchAsync(5, 1024);
        FetchResult caughtUp = await partition.FetchAsync(1, 1024);

        Assert.Equal(ErrorCode.OffsetOutOfRange, beyond.Error);
        Assert.Equal(1, beyond.HighWatermark);
        Assert.Empty(beyond.Records);
        Assert.Equal(ErrorCode.None, caughtUp.Error);
        Assert.Empty(caughtUp.Records);
    }

    private async Task<string> CreateTopicAsync()
    {
        string topic = "log-" + Guid.NewGuid().ToString("N");
        TopicResult created = await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).CreateTopicAsync(topic, 1, settings: null);
        Assert.Equal(ErrorCode.None, created.Error);
        return topic;
    }

    private static byte[] Batch(long producerId, short epoch, int baseSequence, params string[] values)
    {
        var builder = new RecordBatchBuilder(1 << 20);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(builder.TryAppend(Timestamp + Math.Min(i, 1), default, keyIsNull: true, Encoding.UTF8.GetBytes(values[i]), valueIsNull: false, headers: null));
        }

        return builder.Seal(producerId, epoch, baseSequence);
    }

    private static byte[] WithBaseOffset(byte[] batch, long baseOffset)
    {
        byte[] copy = batch.ToArray();
        BinaryPrimitives.WriteInt64BigEndian(copy, baseOffset);
        return copy;
    }
}
