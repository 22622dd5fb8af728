using OrleansBroker.AzureStorage.Tests.Infrastructure;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>
/// One Azurite with blob, queue and table (Orleans clustering needs the table service) for the silo-process tests, started on first
/// use and killed when the run ends. An Azurite named by <see cref="Azurite.ConnectionStringVariable"/> is used instead when it has a
/// table endpoint.
/// </summary>
public sealed class SharedAzurite : IAsyncLifetime
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private Azurite? _azurite;

    /// <summary>The running Azurite, started on the first call.</summary>
    /// <returns>The Azurite.</returns>
    public async Task<Azurite> GetAsync()
    {
        await _lock.WaitAsync();
        try
        {
            if (_azurite is null)
            {
                Azurite? fromEnvironment = await Azurite.FromEnvironmentAsync();
                _azurite = fromEnvironment is { TablePort: > 0 } ? fromEnvironment : await StartAsync();
            }

            return _azurite;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Starts Azurite on free ports, once more on other ports when the first start fails (a port taken between its choice and Azurite's bind).</summary>
    private static async Task<Azurite> StartAsync()
    {
        try
        {
            return await Azurite.StartAsync(AzuriteServices.All);
        }
        catch (InvalidOperationException)
        {
            return await Azurite.StartAsync(AzuriteServices.All);
        }
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }

        _lock.Dispose();
    }
}
