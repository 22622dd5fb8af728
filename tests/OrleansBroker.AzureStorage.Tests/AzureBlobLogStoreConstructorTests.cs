using Azure.Storage.Blobs;
using OrleansBroker.Log;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.AzureStorage.Tests;

/// <summary>Argument checks that need no storage.</summary>
public sealed class AzureBlobLogStoreConstructorTests
{
    private static readonly BlobContainerClient Container = new(new Uri("http://127.0.0.1:1/devstoreaccount1/unused"));

    [Fact]
    public void Constructor_MaxMessageBytesAbove4MiB_ThrowsArgumentExceptionNamingTheLimit()
    {
        var options = new PartitionLogOptions { MaxMessageBytes = AzureBlobLogStoreOptions.MaxAppendBlockBytes + 1 };

        var error = Assert.Throws<ArgumentException>(() => new AzureBlobLogStore(Container, "orders-0", options, TimeProvider.System));

        Assert.Contains("4194304", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_MaxMessageBytesExactly4MiB_IsAccepted()
    {
        var options = new PartitionLogOptions { MaxMessageBytes = AzureBlobLogStoreOptions.MaxAppendBlockBytes };

        var store = new AzureBlobLogStore(Container, "logs/orders-0/", options, TimeProvider.System);

        Assert.Equal("logs/orders-0", store.Prefix);
    }

    [Theory]
    [InlineData("/orders-0")]
    [InlineData("../orders-0")]
    [InlineData("logs/../orders-0")]
    [InlineData("logs//orders-0")]
    [InlineData("logs\\orders-0")]
    [InlineData("/")]
    [InlineData(" ")]
    public void Constructor_InvalidPrefix_ThrowsArgumentException(string prefix)
    {
        Assert.ThrowsAny<ArgumentException>(() => new AzureBlobLogStore(Container, prefix, new PartitionLogOptions(), TimeProvider.System));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(61)]
    public void Constructor_LeaseDurationOutsideAzureLimits_ThrowsArgumentException(int seconds)
    {
        var storeOptions = new AzureBlobLogStoreOptions { LeaseDuration = TimeSpan.FromSeconds(seconds) };

        var error = Assert.Throws<ArgumentException>(
            () => new AzureBlobLogStore(Container, "orders-0", new PartitionLogOptions(), storeOptions, TimeProvider.System));

        Assert.Contains("LeaseDuration", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionPrefix_TopicAndPartition_IsKafkasLogDirectoryName()
    {
        Assert.Equal("orders-12", AzureBlobLogStore.PartitionPrefix("orders", 12));
        Assert.Equal("orders-0/00000000000000000042.log", AzureBlobLogStore.SegmentBlobName("orders-0", 42));
    }

    [Fact]
    public async Task ReadAsync_BeforeOpen_ThrowsInvalidOperation()
    {
        await using var store = new AzureBlobLogStore(Container, "orders-0", new PartitionLogOptions(), TimeProvider.System);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.ReadAsync(0, 100));
    }
}
