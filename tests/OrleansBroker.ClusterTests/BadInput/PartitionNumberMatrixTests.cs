using System.Globalization;
using OrleansBroker.Client;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>Negative and too-large partition numbers, over the grain interface and the SDK: UnknownTopicOrPartition, nothing created.</summary>
[Collection(BadInputCollection.Name)]
public sealed class PartitionNumberMatrixTests(BadInputFixture fixture)
{
    /// <summary>Partition keys of a topic with 2 partitions, with a fragment of the reason given.</summary>
    public static TheoryData<long, string> BadKeys => new()
    {
        { -1, "Partition -1 of topic" },
        { -2, "Partition -2 of topic" },
        { long.MinValue, "Partition -9223372036854775808 of topic" },
        { 2, "has 2 partitions; partition 2 does not exist" },
        { 10_000, "has 2 partitions; partition 10000 does not exist" },
        { int.MaxValue, "has 2 partitions; partition 2147483647 does not exist" },
        { (long)int.MaxValue + 1, "Partition 2147483648 of topic" },
        { long.MaxValue, "Partition 9223372036854775807 of topic" },
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task PartitionGrain_PartitionOutOfRange_ReturnsUnknownTopicOrPartitionAndCreatesNothing(long key, string reason)
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, partitions: 2);
        await probe.TakeBeforeAsync();
        SortedSet<string> before = DiskListing.Snapshot(fixture.DataDirectory);
        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(key, probe.Topic);

        ProduceResult produced = await partition.ProduceAsync(BatchBytes.Build(probe.ProducerB.ProducerId, 0, 0, "b0"));
        FetchResult fetched = await partition.FetchAsync(0, 1024);
        PartitionOffsets offsets = await partition.ListOffsetsAsync();

        PartitionProbe.AssertRefused(produced, ErrorCode.UnknownTopicOrPartition, reason);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, fetched.Error);
        Assert.Equal(new PartitionOffsets(ErrorCode.UnknownTopicOrPartition, -1, -1, -1), offsets);
        Assert.Empty(DiskListing.Added(before, DiskListing.Snapshot(fixture.DataDirectory)));
        Assert.False(Directory.Exists(Path.Combine(fixture.TopicsDirectory, probe.Topic + "-" + key.ToString(CultureInfo.InvariantCulture))));
        await probe.AssertUnchangedAndServingAsync();
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task Producer_NegativePartition_ThrowsUnknownTopicOrPartitionBeforeSending(int partition)
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, partitions: 2);
        await probe.TakeBeforeAsync();
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });

        ProduceException ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(new TopicPartition(probe.Topic, partition), Message.FromString("v")));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.ErrorCode);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition.IsRetriable(), ex.IsRetriable);
        Assert.False(ex.PossiblyPersisted);
        Assert.Equal(new TopicPartition(probe.Topic, partition), ex.TopicPartition);
        Assert.Contains($"Partition {partition} of '{probe.Topic}' does not exist", ex.Message, StringComparison.Ordinal);
        await probe.AssertUnchangedAndServingAsync();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(int.MaxValue)]
    public async Task Producer_PartitionBeyondCount_FailsFastWithUnknownTopicOrPartition(int partition)
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, partitions: 2);
        await probe.TakeBeforeAsync();
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0, DeliveryTimeout = TimeSpan.FromSeconds(60), RequestTimeout = TimeSpan.FromSeconds(30) });
        var reports = new List<DeliveryReport>();

        ProduceException ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(new TopicPartition(probe.Topic, partition), Message.FromString("v")));
        producer.Produce(new TopicPartition(probe.Topic, partition), Message.FromString("w"), r => { lock (reports) { reports.Add(r); } });
        await producer.FlushAsync();

        Assert.IsNotType<DeliveryTimeoutException>(ex);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.ErrorCode);
        Assert.False(ex.PossiblyPersisted);
        Assert.Contains("the topic has 2 partitions", ex.Message, StringComparison.Ordinal);
        DeliveryReport report = Assert.Single(reports);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, report.Error?.ErrorCode);
        await probe.AssertUnchangedAndServingAsync();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(-1)]
    public async Task AdminClient_ListOffsetsOfMissingPartition_ThrowsUnknownTopicOrPartition(int partition)
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, partitions: 2);

        AdminException ex = await Assert.ThrowsAsync<AdminException>(() => fixture.Broker.Admin.ListOffsetsAsync(new TopicPartition(probe.Topic, partition)));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.ErrorCode);
        Assert.Equal(probe.Topic, ex.Topic);
        Assert.True(ex.IsRetriable);
    }

    [Theory]
    [InlineData(0, ErrorCode.InvalidPartitions)]
    [InlineData(-1, ErrorCode.InvalidPartitions)]
    [InlineData(10_001, ErrorCode.InvalidPartitions)]
    public async Task CreateTopic_IllegalPartitionCount_ReturnsInvalidPartitionsOverGrainAndSdk(int count, ErrorCode expected)
    {
        string topic = "count-" + Guid.NewGuid().ToString("N");
        SortedSet<string> before = DiskListing.Snapshot(fixture.DataDirectory);

        TopicResult grain = await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(0).CreateTopicAsync(topic, count, settings: null);
        AdminException sdk = await Assert.ThrowsAsync<AdminException>(() => fixture.Broker.Admin.CreateTopicAsync(topic, count));

        Assert.Equal(expected, grain.Error);
        Assert.Contains($"Partition count is {count}", grain.Message, StringComparison.Ordinal);
        Assert.Equal(expected, sdk.ErrorCode);
        Assert.False(sdk.IsRetriable);
        Assert.Empty(DiskListing.Added(before, DiskListing.Snapshot(fixture.DataDirectory)));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, (await fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(0).DescribeTopicAsync(topic)).Error);
    }
}
