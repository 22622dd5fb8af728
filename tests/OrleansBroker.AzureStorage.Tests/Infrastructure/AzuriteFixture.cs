using System.Diagnostics;
using Azure.Storage.Blobs;

namespace OrleansBroker.AzureStorage.Tests.Infrastructure;

/// <summary>
/// One Azurite blob service for every test of the <see cref="AzuriteCollection"/>: the one named by the environment
/// (<see cref="Azurite.ConnectionStringVariable"/>, <see cref="Azurite.BlobEndpointVariable"/>) when reachable, otherwise a child
/// process started (and installed when missing) for the run and killed at its end.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private Azurite? _azurite;

    /// <summary>The running Azurite.</summary>
    public Azurite Azurite => _azurite ?? throw new InvalidOperationException("The Azurite fixture is not initialized.");

    /// <summary>Time from the fixture's start until Azurite answered (install included when one was needed).</summary>
    public TimeSpan StartDuration { get; private set; }

    /// <summary>A client of the blob service.</summary>
    public BlobServiceClient BlobService { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        _azurite = await Azurite.FromEnvironmentOrStartAsync(AzuriteServices.Blob);
        StartDuration = stopwatch.Elapsed;
        BlobService = new BlobServiceClient(_azurite.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }

    /// <summary>A client of a container with a new unique name (not created yet: the store creates it on open).</summary>
    public BlobContainerClient NewContainer() => BlobService.GetBlobContainerClient("t" + Guid.NewGuid().ToString("N"));
}

/// <summary>The tests that share one <see cref="AzuriteFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Azurite";
}
