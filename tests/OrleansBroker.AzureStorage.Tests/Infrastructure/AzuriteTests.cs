using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace OrleansBroker.AzureStorage.Tests.Infrastructure;

/// <summary>The Azurite helper itself, as the multi-silo tests will use it: all services on free ports, killed on dispose.</summary>
public sealed class AzuriteTests
{
    [Fact]
    public async Task StartAsync_AllServices_ServesBlobAndTableOnItsPortsAndStopsOnDispose()
    {
        var azurite = await Azurite.StartAsync(AzuriteServices.All);
        try
        {
            Assert.True(azurite.OwnsProcess);
            Assert.Equal(3, new[] { azurite.BlobPort, azurite.QueuePort, azurite.TablePort }.Distinct().Count(p => p > 0));
            var table = new TableServiceClient(azurite.ConnectionString).GetTableClient("t" + Guid.NewGuid().ToString("N")[..20]);
            await table.CreateIfNotExistsAsync();
            await table.AddEntityAsync(new TableEntity("silo", "1") { ["Address"] = "127.0.0.1:11111" });
            var container = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("helper");
            await container.CreateIfNotExistsAsync();
            await container.GetBlobClient("a").UploadAsync(new BinaryData("x"u8.ToArray()));

            var entity = await table.GetEntityAsync<TableEntity>("silo", "1");

            Assert.Equal("127.0.0.1:11111", entity.Value.GetString("Address"));
            Assert.Equal("x", (await container.GetBlobClient("a").DownloadContentAsync()).Value.Content.ToString());
        }
        finally
        {
            await azurite.DisposeAsync();
        }

        using var probe = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(async () => await probe.ConnectAsync(System.Net.IPAddress.Loopback, azurite.BlobPort));
    }

    [Fact]
    public void BuildConnectionString_BlobAndTablePorts_NamesOnlyThoseEndpointsOnLoopback()
    {
        string connectionString = Azurite.BuildConnectionString(blobPort: 1234, tablePort: 5678);

        Assert.Contains("BlobEndpoint=http://127.0.0.1:1234/devstoreaccount1;", connectionString, StringComparison.Ordinal);
        Assert.Contains("TableEndpoint=http://127.0.0.1:5678/devstoreaccount1;", connectionString, StringComparison.Ordinal);
        Assert.DoesNotContain("QueueEndpoint", connectionString, StringComparison.Ordinal);
    }
}
