using Orleans.Storage;
using OrleansBroker.Client;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>Epoch regression (a fenced incarnation) and epoch overflow (an exhausted epoch gets a new PID), over the SDK and the registry grain.</summary>
[Collection(BadInputCollection.Name)]
public sealed class EpochMatrixTests(BadInputFixture fixture)
{
    private IProducerRegistryGrain Registry => fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key);

    [Fact]
    public async Task Producer_OlderIncarnationOfIdentity_IsFencedFatallyAndWritesNothing()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory);
        var partition = new TopicPartition(probe.Topic, 0);
        string identity = "fence-" + Guid.NewGuid().ToString("N");
        await using Producer first = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0, ProducerIdentity = identity });
        await using Producer second = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0, ProducerIdentity = identity });

        DeliveryResult one = await first.ProduceAsync(partition, Message.FromString("first-1"));
        DeliveryResult two = await second.ProduceAsync(partition, Message.FromString("second-1"));
        await probe.TakeBeforeAsync();
        ProducerFencedException zombie = await Assert.ThrowsAsync<ProducerFencedException>(() => first.ProduceAsync(partition, Message.FromString("zombie")));
        ProduceException refused = await Assert.ThrowsAnyAsync<ProduceException>(() => first.ProduceAsync(partition, Message.FromString("after-fence")));

        Assert.Equal((1L, 2L), (one.Offset, two.Offset));
        Assert.Equal(first.ProducerId, second.ProducerId);
        Assert.Equal(first.ProducerEpoch + 1, second.ProducerEpoch);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, zombie.ErrorCode);
        Assert.False(zombie.IsRetriable);
        Assert.True(zombie.IsFatal);
        Assert.False(zombie.PossiblyPersisted);
        Assert.Contains("fenced", zombie.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, refused.ErrorCode);
        Assert.True(refused.IsFatal);

        // Nothing of the zombie's is in the log; the live incarnation continues at the next offset.
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 3, 3), await probe.Partition.ListOffsetsAsync());
        DeliveryResult three = await second.ProduceAsync(partition, Message.FromString("second-2"));
        Assert.Equal(3, three.Offset);
    }

    [Fact]
    public async Task Registry_EpochRegressionOnBump_ReturnsInvalidProducerEpoch()
    {
        InitProducerIdResult producer = await Registry.InitProducerIdAsync(new());
        InitProducerIdResult bump1 = await Registry.InitProducerIdAsync(new(producer.ProducerId, 0));
        InitProducerIdResult bump2 = await Registry.InitProducerIdAsync(new(producer.ProducerId, 1));

        InitProducerIdResult regressed = await Registry.InitProducerIdAsync(new(producer.ProducerId, 0));
        InitProducerIdResult negative = await Registry.InitProducerIdAsync(new(producer.ProducerId, -5));
        InitProducerIdResult ahead = await Registry.InitProducerIdAsync(new(producer.ProducerId, 7));

        Assert.Equal((short)2, bump2.ProducerEpoch);
        Assert.Equal((short)1, bump1.ProducerEpoch);
        Assert.Equal(new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1), regressed);
        Assert.Equal(new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1), negative);
        Assert.Equal(new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1), ahead);
    }

    /// <summary>
    /// KIP-360: an identity whose epoch is exhausted (32766) gets a new PID at epoch 0 on the next incarnation; the old PID is retired at the
    /// registry (no bump on it succeeds), and the new incarnation writes at the next offset.
    /// </summary>
    [Fact]
    public async Task Producer_IdentityWithExhaustedEpoch_GetsNewPidAtEpochZeroAndWrites()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory);
        var partition = new TopicPartition(probe.Topic, 0);
        string identity = "exhaust-" + Guid.NewGuid().ToString("N");
        long oldPid;
        await using (Producer first = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0, ProducerIdentity = identity }))
        {
            Assert.Equal(1, (await first.ProduceAsync(partition, Message.FromString("first"))).Offset);
            oldPid = first.ProducerId;
        }

        await SetStoredEpochAsync(oldPid, ProducerRegistryGrain.ExhaustedEpoch);
        await using Producer next = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0, ProducerIdentity = identity });
        DeliveryResult written = await next.ProduceAsync(partition, Message.FromString("next"));
        InitProducerIdResult oldBump = await Registry.InitProducerIdAsync(new(oldPid, ProducerRegistryGrain.ExhaustedEpoch));

        Assert.NotEqual(oldPid, next.ProducerId);
        Assert.Equal((short)0, next.ProducerEpoch);
        Assert.Equal(2, written.Offset);
        Assert.False(written.IsDuplicate);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, oldBump.Error);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 3, 3), await probe.Partition.ListOffsetsAsync());
    }

    [Fact]
    public async Task Registry_ExhaustedEpochBump_IssuesNewPidAndRetiresOld()
    {
        InitProducerIdResult producer = await Registry.InitProducerIdAsync(new());
        await SetStoredEpochAsync(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch);

        InitProducerIdResult replaced = await Registry.InitProducerIdAsync(new(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch));
        InitProducerIdResult retried = await Registry.InitProducerIdAsync(new(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch));
        InitProducerIdResult atMax = await Registry.InitProducerIdAsync(new(producer.ProducerId, short.MaxValue));

        Assert.Equal(ErrorCode.None, replaced.Error);
        Assert.NotEqual(producer.ProducerId, replaced.ProducerId);
        Assert.Equal((short)0, replaced.ProducerEpoch);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, retried.Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, atMax.Error);
    }

    private async Task SetStoredEpochAsync(long producerId, short epoch)
    {
        await fixture.Cluster.DeactivateAsync(Registry);
        IGrainStorage storage = fixture.GetBrokerGrainStorage();
        var state = new GrainState<ProducerRegistryState>();
        await storage.ReadStateAsync(ProducerRegistryGrain.StateName, Registry.GetGrainId(), state);
        state.State!.Epochs[producerId] = epoch;
        await storage.WriteStateAsync(ProducerRegistryGrain.StateName, Registry.GetGrainId(), state);
    }
}
