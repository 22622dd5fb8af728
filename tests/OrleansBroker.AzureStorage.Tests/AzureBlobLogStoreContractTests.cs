using Azure.Storage.Blobs;
using OrleansBroker.AzureStorage.Tests.Infrastructure;
using OrleansBroker.Log;
using OrleansBroker.Log.Tests.Storage;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.AzureStorage.Tests;

/// <summary>Runs the <see cref="ILogStore"/> contract against <see cref="AzureBlobLogStore"/> on Azurite, one container per test.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobLogStoreContractTests(AzuriteFixture azurite) : LogStoreContractTests
{
    private readonly BlobContainerClient _container = azurite.NewContainer();

    /// <summary>The test's location (a temporary path) becomes a blob prefix such as <c>tmp/obroker-store-tests/0a1b…</c>.</summary>
    protected override ILogStore CreateStore(string directory, PartitionLogOptions options) =>
        new AzureBlobLogStore(_container, ToPrefix(directory), options, TimeProvider.System);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _container.DeleteIfExistsAsync();
    }

    private static string ToPrefix(string directory) =>
        string.Join('/', directory.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Replace(":", "", StringComparison.Ordinal)));
}
