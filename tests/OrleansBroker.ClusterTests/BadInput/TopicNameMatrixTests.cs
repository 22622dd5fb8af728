using OrleansBroker.Client;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>
/// Invalid and hostile topic names, over the grain interfaces and over the SDK: each gets a typed error with a reason, and nothing is
/// created on disk (the data directory's listing is unchanged, and no path the name could resolve to exists).
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class TopicNameMatrixTests(BadInputFixture fixture) : IAsyncLifetime
{
    /// <summary>Name → a fragment of the reason every layer must give.</summary>
    public static TheoryData<string, string> HostileNames => new()
    {
        { "", "empty" },
        { new string('a', 250), "250 characters" },
        { "..", "cannot be '..'" },
        { ".", "cannot be '.'" },
        { "a/b", "U+002F" },
        { "..\\x", "U+005C" },
        { "a\u0001b", "U+0001" },
        { "../../etc/passwd", "U+002F" },
        { "a b", "U+0020" },
        { "topic\u00e9", "U+00E9" },
        { "C:\\Windows", "U+003A" },
        { "a\0b", "U+0000" },
    };

    private ITopicCatalogGrain Catalog => fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key);

    public async Task InitializeAsync()
    {
        // The catalog's state file exists before any listing is taken.
        TopicResult warm = await Catalog.CreateTopicAsync("warm-up", 1, settings: null);
        Assert.True(warm.Error is ErrorCode.None or ErrorCode.TopicAlreadyExists, warm.Message);

        // So does the producer registry's, holding a block of producer ids: a producer requests its id at creation, which is not
        // what these tests are about (with a block in hand, the registry writes nothing while they run).
        InitProducerIdResult pid = await fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key).InitProducerIdAsync(new InitProducerIdRequest());
        Assert.Equal(ErrorCode.None, pid.Error);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task CatalogCreateTopic_HostileName_ReturnsInvalidTopicAndCreatesNothing(string name, string reason)
    {
        Disk before = TakeDisk(name);

        TopicResult created = await Catalog.CreateTopicAsync(name, 1, settings: null);
        TopicResult described = await Catalog.DescribeTopicAsync(name);
        IReadOnlyList<TopicDescription> listed = await Catalog.ListTopicsAsync();

        Assert.Equal(ErrorCode.InvalidTopic, created.Error);
        Assert.Null(created.Topic);
        Assert.Contains(reason, created.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidTopic, described.Error);
        Assert.Contains(reason, described.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(listed, t => t.Name == name);
        AssertNothingCreated(before, name);
    }

    /// <summary>
    /// The partition grain answers an illegal name as Kafka's Produce/Fetch/ListOffsets do for a topic that cannot exist:
    /// <see cref="ErrorCode.UnknownTopicOrPartition"/> naming the reason, also with auto-create on (no directory, no catalog entry).
    /// </summary>
    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task PartitionGrain_HostileName_ReturnsUnknownTopicOrPartitionWithReasonAndCreatesNothing(string name, string reason)
    {
        Disk before = TakeDisk(name);
        if (name.Length == 0)
        {
            // Orleans itself refuses an empty key extension before any call is made.
            Assert.Throws<ArgumentException>(() => fixture.GrainFactory.GetGrain<IPartitionGrain>(0, name));
            AssertNothingCreated(before, name);
            return;
        }

        IPartitionGrain partition = fixture.GrainFactory.GetGrain<IPartitionGrain>(0, name);

        ProduceResult produced = await partition.ProduceAsync(BatchBytes.Build(-1, -1, -1, "v"));
        FetchResult fetched = await partition.FetchAsync(0, 1024);
        PartitionOffsets offsets = await partition.ListOffsetsAsync();

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, produced.Error);
        Assert.Equal(-1, produced.BaseOffset);
        Assert.Contains(reason, produced.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, fetched.Error);
        Assert.Empty(fetched.Records);
        Assert.Equal(new PartitionOffsets(ErrorCode.UnknownTopicOrPartition, -1, -1, -1), offsets);
        Assert.DoesNotContain(await Catalog.ListTopicsAsync(), t => t.Name == name);
        AssertNothingCreated(before, name);
    }

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task AdminClient_HostileName_ThrowsInvalidTopicNotRetriable(string name, string reason)
    {
        Disk before = TakeDisk(name);

        AdminException create = await Assert.ThrowsAsync<AdminException>(() => fixture.Broker.Admin.CreateTopicAsync(name, 1));
        AdminException describe = await Assert.ThrowsAsync<AdminException>(() => fixture.Broker.Admin.DescribeTopicAsync(name));

        foreach (AdminException ex in new[] { create, describe })
        {
            Assert.Equal(ErrorCode.InvalidTopic, ex.ErrorCode);
            Assert.False(ex.IsRetriable);
            Assert.False(ex.IsFatal);
            Assert.Equal(name, ex.Topic);
            Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        }

        AssertNothingCreated(before, name);
    }

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task Producer_HostileName_ThrowsInvalidTopicNotPersisted(string name, string reason)
    {
        Disk before = TakeDisk(name);
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { DeliveryTimeout = TimeSpan.FromSeconds(10), RequestTimeout = TimeSpan.FromSeconds(5) });

        ProduceException byTopic = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(name, Message.FromString("v")));
        ProduceException byPartition = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(new TopicPartition(name, 0), Message.FromString("v")));
        ProduceException fireAndForget = Assert.Throws<ProduceException>(() => producer.Produce(name, Message.FromString("v")));

        foreach (ProduceException ex in new[] { byTopic, byPartition, fireAndForget })
        {
            Assert.Equal(ErrorCode.InvalidTopic, ex.ErrorCode);
            Assert.False(ex.IsRetriable);
            Assert.False(ex.PossiblyPersisted);
            Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, producer.PendingCount);
        AssertNothingCreated(before, name);
    }

    /// <summary>"con" is a legal Kafka name (a Windows device name): it is accepted, and its log lies exactly at topics/con-0.</summary>
    [Fact]
    public async Task Producer_WindowsDeviceName_IsAcceptedAndStoredUnderTopics()
    {
        SortedSet<string> before = DiskListing.Snapshot(fixture.DataDirectory);
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });

        TopicDescription topic = await fixture.Broker.Admin.CreateTopicAsync("con", 1);
        DeliveryResult delivered = await producer.ProduceAsync(new TopicPartition("con", 0), Message.FromString("device"));

        Assert.Equal("con", topic.Name);

        Assert.Equal(0, delivered.Offset);
        List<string> added = DiskListing.Added(before, DiskListing.Snapshot(fixture.DataDirectory));
        Assert.Contains("topics/con-0", added);
        Assert.All(added, e => Assert.True(e == "topics" || e.StartsWith("topics/con-0", StringComparison.Ordinal) || e.StartsWith("grain-state/", StringComparison.Ordinal), e));
    }

    /// <summary>The longest legal name (249 characters) works end to end and its directory name fits the file system.</summary>
    [Fact]
    public async Task Producer_LongestLegalName_IsAcceptedAndStoredUnderTopics()
    {
        string name = new('x', 249);
        TopicDescription topic = await fixture.Broker.Admin.CreateTopicAsync(name, 1);
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });

        DeliveryResult delivered = await producer.ProduceAsync(name, Message.FromString("long"));

        Assert.Equal(249, topic.Name.Length);
        Assert.Equal(0, delivered.Offset);
        Assert.True(Directory.Exists(Path.Combine(fixture.TopicsDirectory, name + "-0")));
    }

    private Disk TakeDisk(string name) =>
        new(DiskListing.Snapshot(fixture.DataDirectory), [.. CandidatePaths(name).Where(Exists)]);

    private void AssertNothingCreated(Disk before, string name)
    {
        Assert.Empty(DiskListing.Added(before.Listing, DiskListing.Snapshot(fixture.DataDirectory)));
        foreach (string candidate in CandidatePaths(name).Where(c => !before.ExistingCandidates.Contains(c)))
        {
            Assert.False(Exists(candidate), $"'{candidate}' was created");
        }
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>Every path a careless store could have built from the name.</summary>
    private IEnumerable<string> CandidatePaths(string name)
    {
        foreach (string root in new[] { fixture.TopicsDirectory, fixture.DataDirectory })
        {
            foreach (string suffix in new[] { "-0", string.Empty })
            {
                string path;
                try
                {
                    path = Path.GetFullPath(Path.Combine(root, name + suffix));
                }
                catch (ArgumentException)
                {
                    continue;
                }

                if (path != Path.GetFullPath(root) && path != Path.GetFullPath(fixture.DataDirectory) && !Path.GetFullPath(root).StartsWith(path, StringComparison.Ordinal))
                {
                    yield return path;
                }
            }
        }
    }

    private sealed record Disk(SortedSet<string> Listing, HashSet<string> ExistingCandidates);
}
