using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansBroker.Server;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Server;

public sealed class FileGrainStorageTests : IDisposable
{
    private static readonly GrainId Grain = GrainId.Create("producerregistry", "0");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "obroker-gs-" + Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private readonly FileGrainStorage _storage;

    public FileGrainStorageTests()
    {
        Directory.CreateDirectory(_directory);
        _storage = new FileGrainStorage("broker", _directory, _services.GetRequiredService<IActivatorProvider>(), NullLogger<FileGrainStorage>.Instance);
    }

    public void Dispose()
    {
        _services.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ReadStateAsync_NothingStored_ReturnsFreshStateWithoutETag()
    {
        var state = new GrainState<ProducerRegistryState>();

        await _storage.ReadStateAsync("s", Grain, state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.NextBlockStart);
    }

    [Fact]
    public async Task WriteStateAsync_ThenRead_RoundTripsEveryField()
    {
        var written = new GrainState<ProducerRegistryState>(new ProducerRegistryState
        {
            NextBlockStart = 3000,
            Epochs = { [5] = 2, [1999] = short.MaxValue },
            Identities = { ["orders"] = 5 },
        });

        await _storage.WriteStateAsync("s", Grain, written);
        var read = new GrainState<ProducerRegistryState>();
        await _storage.ReadStateAsync("s", Grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(3000, read.State!.NextBlockStart);
        Assert.Equal(new Dictionary<long, short> { [5] = 2, [1999] = short.MaxValue }, read.State!.Epochs);
        Assert.Equal(new Dictionary<string, long> { ["orders"] = 5 }, read.State!.Identities);
    }

    [Fact]
    public async Task WriteStateAsync_StaleETag_ThrowsInconsistentStateAndKeepsNewerState()
    {
        var first = new GrainState<ProducerRegistryState>(new ProducerRegistryState { NextBlockStart = 1000 });
        await _storage.WriteStateAsync("s", Grain, first);
        var other = new GrainState<ProducerRegistryState>();
        await _storage.ReadStateAsync("s", Grain, other);
        other.State!.NextBlockStart = 2000;
        await _storage.WriteStateAsync("s", Grain, other);

        first.State!.NextBlockStart = 1500;
        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync("s", Grain, first));

        var read = new GrainState<ProducerRegistryState>();
        await _storage.ReadStateAsync("s", Grain, read);
        Assert.Equal(2000, read.State!.NextBlockStart);
    }

    [Fact]
    public async Task WriteStateAsync_ETagWhenNothingStored_ThrowsInconsistentState()
    {
        var state = new GrainState<ProducerRegistryState>(new ProducerRegistryState()) { ETag = "made-up" };

        await Assert.ThrowsAsync<InconsistentStateException>(() => _storage.WriteStateAsync("s", Grain, state));
        Assert.False(File.Exists(_storage.GetFilePath("s", Grain)));
    }

    [Fact]
    public async Task WriteStateAsync_LeavesOnlyTheStateFileAndItsLock_NoTemporaryFiles()
    {
        var state = new GrainState<ProducerRegistryState>(new ProducerRegistryState { NextBlockStart = 1000 });

        await _storage.WriteStateAsync("s", Grain, state);
        await _storage.WriteStateAsync("s", Grain, state);

        string path = _storage.GetFilePath("s", Grain);
        Assert.Equal(
            new[] { Path.GetFileName(path), Path.GetFileName(path) + ".lock" }.Order(StringComparer.Ordinal),
            Directory.GetFiles(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using JsonDocument document = JsonDocument.Parse(await File.ReadAllBytesAsync(path));
        Assert.Equal(state.ETag, document.RootElement.GetProperty("etag").GetString());
        Assert.Equal(1000, document.RootElement.GetProperty("state").GetProperty("NextBlockStart").GetInt64());
    }

    [Fact]
    public async Task ClearStateAsync_MatchingETag_DeletesAndResets()
    {
        var state = new GrainState<ProducerRegistryState>(new ProducerRegistryState { NextBlockStart = 1000 });
        await _storage.WriteStateAsync("s", Grain, state);

        await _storage.ClearStateAsync("s", Grain, state);

        Assert.False(File.Exists(_storage.GetFilePath("s", Grain)));
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(0, state.State!.NextBlockStart);
    }

    [Fact]
    public async Task ReadStateAsync_CorruptFile_ThrowsInvalidDataNamingTheFile()
    {
        string path = _storage.GetFilePath("s", Grain);
        await File.WriteAllTextAsync(path, "{ not json");

        InvalidDataException ex = await Assert.ThrowsAsync<InvalidDataException>(() => _storage.ReadStateAsync("s", Grain, new GrainState<ProducerRegistryState>()));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetFilePath_DifferentGrainsAndStates_AreDistinctFilesInTheDirectory()
    {
        string a = _storage.GetFilePath("s", GrainId.Create("t", "a/b"));
        string b = _storage.GetFilePath("s", GrainId.Create("t", "a-b"));
        string c = _storage.GetFilePath("s2", GrainId.Create("t", "a/b"));

        Assert.Equal(3, new HashSet<string>([a, b, c]).Count);
        Assert.All([a, b, c], p => Assert.Equal(_directory, Path.GetDirectoryName(p)));
    }
}
