using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>
/// A fresh topic whose partition 0 holds one batch of producer A (offset 0); records the offsets and bytes before a bad call, then proves
/// the call wrote nothing and the partition keeps serving: another producer's batch lands at the old log end offset, and producer A
/// continues at its next sequence.
/// </summary>
internal sealed class PartitionProbe
{
    private readonly IGrainFactory _grains;
    private PartitionOffsets _offsetsBefore = null!;
    private byte[] _bytesBefore = [];

    private PartitionProbe(IGrainFactory grains, string topic, InitProducerIdResult producerA, InitProducerIdResult producerB)
    {
        _grains = grains;
        Topic = topic;
        ProducerA = producerA;
        ProducerB = producerB;
    }

    public string Topic { get; }

    public IPartitionGrain Partition => _grains.GetGrain<IPartitionGrain>(0, Topic);

    /// <summary>Producer A: wrote sequence 0 (one record) at offset 0; its next sequence is <see cref="NextSequenceA"/>.</summary>
    public InitProducerIdResult ProducerA { get; private set; }

    public InitProducerIdResult ProducerB { get; }

    public int NextSequenceA { get; private set; } = 1;

    /// <summary>Creates the topic (max.message.bytes <paramref name="maxMessageBytes"/>) and writes producer A's first batch.</summary>
    public static async Task<PartitionProbe> CreateAsync(IGrainFactory grains, int maxMessageBytes = 4096, int partitions = 1)
    {
        string topic = "bad-" + Guid.NewGuid().ToString("N");
        TopicResult created = await grains.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key)
            .CreateTopicAsync(topic, partitions, new TopicSettings { MaxMessageBytes = maxMessageBytes });
        Assert.Equal(ErrorCode.None, created.Error);
        IProducerRegistryGrain registry = grains.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key);
        var probe = new PartitionProbe(grains, topic, await registry.InitProducerIdAsync(new()), await registry.InitProducerIdAsync(new()));
        ProduceResult first = await probe.Partition.ProduceAsync(BatchBytes.Build(probe.ProducerA.ProducerId, probe.ProducerA.ProducerEpoch, 0, "a0"));
        Assert.Equal(ErrorCode.None, first.Error);
        Assert.Equal(0, first.BaseOffset);
        return probe;
    }

    /// <summary>Bumps producer A's epoch at the registry and writes sequence 0 of the new epoch (offset 1).</summary>
    public async Task BumpProducerAAsync()
    {
        InitProducerIdResult bumped = await _grains.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key)
            .InitProducerIdAsync(new InitProducerIdRequest(ProducerA.ProducerId, ProducerA.ProducerEpoch));
        Assert.Equal(ErrorCode.None, bumped.Error);
        ProduceResult written = await Partition.ProduceAsync(BatchBytes.Build(bumped.ProducerId, bumped.ProducerEpoch, 0, "a-bumped"));
        Assert.Equal(ErrorCode.None, written.Error);
        ProducerA = bumped;
        NextSequenceA = 1;
    }

    /// <summary>Remembers the partition's offsets and bytes.</summary>
    public async Task TakeBeforeAsync()
    {
        _offsetsBefore = await Partition.ListOffsetsAsync();
        Assert.Equal(ErrorCode.None, _offsetsBefore.Error);
        _bytesBefore = (await Partition.FetchAsync(0, 1 << 20)).Records;
    }

    /// <summary>Asserts the refusal: the code, offsets -1, a reason containing <paramref name="reason"/>.</summary>
    public static void AssertRefused(ProduceResult result, ErrorCode expected, string reason)
    {
        Assert.Equal(expected, result.Error);
        Assert.Equal(-1, result.BaseOffset);
        Assert.Equal(-1, result.Timestamp);
        Assert.False(result.IsDuplicate);
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        Assert.Contains(reason, result.Message, StringComparison.Ordinal);
    }

    /// <summary>Nothing was written, and both producers still append at the expected offsets.</summary>
    public async Task AssertUnchangedAndServingAsync()
    {
        Assert.Equal(_offsetsBefore, await Partition.ListOffsetsAsync());
        Assert.Equal(_bytesBefore, (await Partition.FetchAsync(0, 1 << 20)).Records);

        long next = _offsetsBefore.LogEndOffset;
        ProduceResult other = await Partition.ProduceAsync(BatchBytes.Build(ProducerB.ProducerId, ProducerB.ProducerEpoch, 0, "b0"));
        Assert.Equal(ErrorCode.None, other.Error);
        Assert.False(other.IsDuplicate);
        Assert.Equal(next, other.BaseOffset);

        ProduceResult same = await Partition.ProduceAsync(BatchBytes.Build(ProducerA.ProducerId, ProducerA.ProducerEpoch, NextSequenceA, "a-next"));
        Assert.Equal(ErrorCode.None, same.Error);
        Assert.False(same.IsDuplicate);
        Assert.Equal(next + 1, same.BaseOffset);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, next + 2, next + 2), await Partition.ListOffsetsAsync());
    }
}
