using System.Net;
using System.Net.Sockets;
using OrleansBroker.Client;
using OrleansBroker.Client.Internal;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>Admin error mapping, option validation, gateway parsing and fault classification.</summary>
public sealed class AdminAndOptionsTests
{
    [Fact]
    public async Task CreateTopicAsync_Existing_ThrowsTopicAlreadyExists()
    {
        var broker = new FakeBroker();
        var admin = new AdminClient(broker, TimeSpan.FromSeconds(5));
        TopicDescription created = await admin.CreateTopicAsync("orders", 3);

        AdminException error = await Assert.ThrowsAsync<AdminException>(() => admin.CreateTopicAsync("orders", 3));

        Assert.Equal(3, created.PartitionCount);
        Assert.Equal(ErrorCode.TopicAlreadyExists, error.ErrorCode);
        Assert.Equal("orders", error.Topic);
        Assert.False(error.IsRetriable);
    }

    [Fact]
    public async Task CreateTopicAsync_NewTopic_OpensEveryPartitionBeforeReturning()
    {
        var broker = new FakeBroker();
        var admin = new AdminClient(broker, TimeSpan.FromSeconds(5));

        await admin.CreateTopicAsync("orders", 3);

        Assert.Equal([("orders", 0), ("orders", 1), ("orders", 2)], broker.ListOffsetsCalls.OrderBy(c => c.Partition));
    }

    [Fact]
    public async Task CreateTopicAsync_PartitionThatCannotOpen_StillReturnsTheTopic()
    {
        var broker = new FakeBroker
        {
            OnListOffsets = (_, partition) => partition == 1 ? Task.FromException<PartitionOffsets>(new IOException("disk gone")) : null,
        };
        var admin = new AdminClient(broker, TimeSpan.FromSeconds(5));

        TopicDescription created = await admin.CreateTopicAsync("orders", 2);

        Assert.Equal(("orders", 2), (created.Name, created.PartitionCount));
        Assert.Equal(2, broker.ListOffsetsCalls.Count);
        Assert.Equal(2, (await admin.DescribeTopicAsync("orders")).PartitionCount);
    }

    [Fact]
    public async Task CreateTopicAsync_IllegalName_ThrowsInvalidTopicWithoutCall()
    {
        var broker = new FakeBroker();
        var admin = new AdminClient(broker, TimeSpan.FromSeconds(5));

        AdminException error = await Assert.ThrowsAsync<AdminException>(() => admin.CreateTopicAsync("../etc", 1));

        Assert.Equal(ErrorCode.InvalidTopic, error.ErrorCode);
        Assert.Empty(await broker.ListTopicsAsync());
        Assert.Empty(broker.ListOffsetsCalls);
    }

    [Fact]
    public async Task DescribeTopicAsync_Unknown_ThrowsUnknownTopicOrPartition()
    {
        var admin = new AdminClient(new FakeBroker(), TimeSpan.FromSeconds(5));

        AdminException error = await Assert.ThrowsAsync<AdminException>(() => admin.DescribeTopicAsync("nope"));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, error.ErrorCode);
    }

    [Fact]
    public async Task ListTopicsAsync_SeveralTopics_OrderedByName()
    {
        var broker = new FakeBroker();
        broker.AddTopic("b", 1);
        broker.AddTopic("a", 2);
        var admin = new AdminClient(broker, TimeSpan.FromSeconds(5));

        IReadOnlyList<TopicDescription> topics = await admin.ListTopicsAsync();

        Assert.Equal(["a", "b"], topics.Select(t => t.Name));
    }

    [Fact]
    public void ProducerOptionsValidate_SixInFlightWithIdempotence_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => new ProducerOptions { MaxInFlightPerPartition = 6 }.Validate());

        Assert.Contains("MaxInFlightPerPartition", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProducerOptionsValidate_SixInFlightWithoutIdempotence_Accepted()
    {
        new ProducerOptions { MaxInFlightPerPartition = 6, EnableIdempotence = false }.Validate();
    }

    [Fact]
    public void ProducerOptionsValidate_SeveralBadSettings_ListsEveryOne()
    {
        var error = Assert.Throws<ArgumentException>(() => new ProducerOptions { LingerMs = -1, BatchSize = 10, DeliveryTimeout = TimeSpan.FromSeconds(1) }.Validate());

        Assert.Contains("LingerMs", error.Message, StringComparison.Ordinal);
        Assert.Contains("BatchSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("DeliveryTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokerClientCreateProducer_InvalidOptions_ThrowsArgumentException()
    {
        var client = new BrokerClient(new FakeBroker());

        Assert.Throws<ArgumentException>(() => client.CreateProducer(new ProducerOptions { MaxInFlightPerPartition = 9 }));
    }

    [Theory]
    [InlineData("127.0.0.1:30000", "127.0.0.1", 30000)]
    [InlineData("localhost:1", "localhost", 1)]
    [InlineData("[::1]:30001", "::1", 30001)]
    public void GatewayAddressTryParse_Valid_SplitsHostAndPort(string text, string host, int port)
    {
        Assert.True(GatewayAddress.TryParse(text, out string h, out int p, out string? reason));
        Assert.Equal((host, port, null), (h, p, reason));
    }

    [Theory]
    [InlineData("")]
    [InlineData("host")]
    [InlineData("host:0")]
    [InlineData("host:70000")]
    [InlineData("::1:30000")]
    public void GatewayAddressTryParse_Invalid_ReturnsReason(string text)
    {
        Assert.False(GatewayAddress.TryParse(text, out _, out _, out string? reason));
        Assert.NotNull(reason);
    }

    [Fact]
    public void BrokerClientOptionsValidate_BadGatewayAndEmptyClusterId_ListsBoth()
    {
        var error = Assert.Throws<ArgumentException>(() => new BrokerClientOptions { Gateways = ["nope"], ClusterId = "" }.Validate());

        Assert.Contains("nope", error.Message, StringComparison.Ordinal);
        Assert.Contains("ClusterId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CallFaultsClassify_OrleansExceptions_MatchOrleansNotes()
    {
        Assert.Equal(CallFault.NotExecuted, CallFaults.Classify(new Orleans.Runtime.Messaging.ConnectionFailedException("x")));
        Assert.Equal(CallFault.NotExecuted, CallFaults.Classify(new Orleans.Runtime.GatewayTooBusyException()));
        Assert.Equal(CallFault.NotExecuted, CallFaults.Classify(new Orleans.Runtime.OrleansException("No active nodes are compatible with grain x")));
        Assert.Equal(CallFault.OutcomeUnknown, CallFaults.Classify(new TimeoutException()));
        Assert.Equal(CallFault.OutcomeUnknown, CallFaults.Classify(new OperationCanceledException()));
        Assert.Equal(CallFault.OutcomeUnknown, CallFaults.Classify(new Orleans.Runtime.SiloUnavailableException()));
        Assert.Equal(CallFault.Fatal, CallFaults.Classify(new InvalidOperationException()));
    }

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(4, 800)]
    [InlineData(5, 1000)]
    [InlineData(40, 1000)]
    public void CallFaultsBackoff_Attempt_DoublesUpToMax(int attempt, int expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), CallFaults.Backoff(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_ThrowsBrokerConnectionExceptionNamingGateway()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var options = new BrokerClientOptions { Gateways = [$"127.0.0.1:{port}"], StartupTimeout = TimeSpan.FromSeconds(2) };

        BrokerConnectionException error = await Assert.ThrowsAsync<BrokerConnectionException>(() => BrokerClient.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains($"Cannot reach broker at 127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.True(error.IsRetriable);
    }
}
