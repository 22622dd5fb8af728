using Orleans.Storage;
using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.Server;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

[Collection(BrokerClusterCollection.Name)]
public sealed class ProducerRegistryGrainTests(BrokerClusterFixture fixture)
{
    private const int BlockSize = BrokerOptions.DefaultProducerIdBlockSize;

    private IProducerRegistryGrain Registry => fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key);

    [Fact]
    public async Task InitProducerId_AfterRegistryDeactivation_NeverReissuesAndSkipsRestOfBlock()
    {
        InitProducerIdResult first = await NewProducerAsync();
        InitProducerIdResult second = await NewProducerAsync();
        Assert.Equal(first.ProducerId + 1, second.ProducerId);

        await fixture.Cluster.DeactivateAsync(Registry);
        InitProducerIdResult afterRestart = await NewProducerAsync();

        // The new activation resumes at the next block: the unused rest of the old block is skipped, never reissued.
        long expected = ((second.ProducerId / BlockSize) + 1) * BlockSize;
        Assert.Equal(ErrorCode.None, afterRestart.Error);
        Assert.Equal(expected, afterRestart.ProducerId);
        Assert.Equal((short)0, afterRestart.ProducerEpoch);

        ProducerRegistryState stored = await ReadStoredStateAsync();
        Assert.Equal(expected + BlockSize, stored.NextBlockStart);
    }

    [Fact]
    public async Task InitProducerId_StateFile_LivesInSharedDataDirectory()
    {
        await NewProducerAsync();

        var storage = Assert.IsType<FileGrainStorage>(fixture.GetBrokerGrainStorage());
        string path = storage.GetFilePath(ProducerRegistryGrain.StateName, Registry.GetGrainId());
        Assert.Equal(Path.Combine(fixture.DataDirectory, BrokerGrainStorage.FolderName), Path.GetDirectoryName(path));
        Assert.True(File.Exists(path), $"{path} does not exist");
    }

    [Fact]
    public async Task InitProducerId_NewProducers_AreDistinctAndBlockIsStoredBeforeUse()
    {
        var ids = new HashSet<long>();
        for (int i = 0; i < 20; i++)
        {
            InitProducerIdResult result = await NewProducerAsync();
            Assert.True(ids.Add(result.ProducerId), $"PID {result.ProducerId} was issued twice");
            ProducerRegistryState stored = await ReadStoredStateAsync();
            Assert.True(result.ProducerId < stored.NextBlockStart, $"PID {result.ProducerId} was handed out before its block (stored end {stored.NextBlockStart}) was durable");
        }
    }

    [Fact]
    public async Task InitProducerId_BumpCurrentEpoch_ReturnsNextEpochAndRetryReturnsSame()
    {
        InitProducerIdResult producer = await NewProducerAsync();

        InitProducerIdResult bumped = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));
        InitProducerIdResult retried = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));
        InitProducerIdResult bumpedAgain = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 1));

        Assert.Equal(new InitProducerIdResult(ErrorCode.None, producer.ProducerId, 1), bumped);
        Assert.Equal(new InitProducerIdResult(ErrorCode.None, producer.ProducerId, 1), retried);
        Assert.Equal(new InitProducerIdResult(ErrorCode.None, producer.ProducerId, 2), bumpedAgain);
    }

    [Fact]
    public async Task InitProducerId_StaleEpoch_ReturnsInvalidProducerEpoch()
    {
        InitProducerIdResult producer = await NewProducerAsync();
        await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));
        await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 1));

        InitProducerIdResult stale = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));
        InitProducerIdResult future = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 7));

        Assert.Equal(new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1), stale);
        Assert.Equal(new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1), future);
    }

    [Fact]
    public async Task InitProducerId_PidNeverIssued_ReturnsUnknownProducerId()
    {
        InitProducerIdResult result = await Registry.InitProducerIdAsync(new InitProducerIdRequest(long.MaxValue / 2, 0));

        Assert.Equal(new InitProducerIdResult(ErrorCode.UnknownProducerId, -1, -1), result);
    }

    [Fact]
    public async Task InitProducerId_BumpAfterDeactivation_ContinuesFromStoredEpoch()
    {
        InitProducerIdResult producer = await NewProducerAsync();
        await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));

        await fixture.Cluster.DeactivateAsync(Registry);
        InitProducerIdResult bumped = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 1));
        InitProducerIdResult stale = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, 0));

        Assert.Equal(new InitProducerIdResult(ErrorCode.None, producer.ProducerId, 2), bumped);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, stale.Error);
    }

    [Fact]
    public async Task InitProducerId_ExhaustedEpoch_IssuesNewPidAndRetiresOldOne()
    {
        InitProducerIdResult producer = await NewProducerAsync();
        await SetStoredEpochAsync(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch);

        InitProducerIdResult replaced = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch));
        InitProducerIdResult oldAgain = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch));

        Assert.Equal(ErrorCode.None, replaced.Error);
        Assert.NotEqual(producer.ProducerId, replaced.ProducerId);
        Assert.True(replaced.ProducerId > producer.ProducerId);
        Assert.Equal((short)0, replaced.ProducerEpoch);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, oldAgain.Error);
    }

    [Fact]
    public async Task InitProducerId_EpochBelowExhaustion_IsBumped()
    {
        InitProducerIdResult producer = await NewProducerAsync();
        await SetStoredEpochAsync(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch - 1);

        InitProducerIdResult bumped = await Registry.InitProducerIdAsync(new InitProducerIdRequest(producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch - 1));

        Assert.Equal(new InitProducerIdResult(ErrorCode.None, producer.ProducerId, ProducerRegistryGrain.ExhaustedEpoch), bumped);
    }

    [Fact]
    public async Task InitProducerId_ProducerIdentity_KeepsPidAndBumpsEpochAcrossDeactivation()
    {
        string identity = "orders-writer-" + Guid.NewGuid().ToString("N");

        InitProducerIdResult first = await Registry.InitProducerIdAsync(new InitProducerIdRequest(ProducerIdentity: identity));
        InitProducerIdResult second = await Registry.InitProducerIdAsync(new InitProducerIdRequest(ProducerIdentity: identity));
        await fixture.Cluster.DeactivateAsync(Registry);
        InitProducerIdResult third = await Registry.InitProducerIdAsync(new InitProducerIdRequest(ProducerIdentity: identity));
        InitProducerIdResult fencedOld = await Registry.InitProducerIdAsync(new InitProducerIdRequest(first.ProducerId, 0));

        Assert.Equal(ErrorCode.None, first.Error);
        Assert.Equal((short)0, first.ProducerEpoch);
        Assert.Equal(new InitProducerIdResult(ErrorCode.None, first.ProducerId, 1), second);
        Assert.Equal(new InitProducerIdResult(ErrorCode.None, first.ProducerId, 2), third);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, fencedOld.Error);
    }

    private Task<InitProducerIdResult> NewProducerAsync() => Registry.InitProducerIdAsync(new InitProducerIdRequest());

    private async Task<ProducerRegistryState> ReadStoredStateAsync()
    {
        var state = new GrainState<ProducerRegistryState>();
        await fixture.GetBrokerGrainStorage().ReadStateAsync(ProducerRegistryGrain.StateName, Registry.GetGrainId(), state);
        Assert.True(state.RecordExists, "the registry state file does not exist");
        return state.State!;
    }

    /// <summary>Deactivates the registry, edits its stored state, so the next call activates it with this epoch.</summary>
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
