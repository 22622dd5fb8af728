using OrleansBroker.Testing;
using System.Net;
using System.Net.Sockets;
using OrleansBroker.EndToEndTests.Infrastructure;

namespace OrleansBroker.EndToEndTests;

/// <summary>The silo host process on its own: a start that cannot succeed ends the process with one clear line.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SiloHostTests
{
    [Fact]
    public async Task Start_GatewayPortTaken_ExitsWithCodeOneAndSaysWhy()
    {
        string root = Path.Combine(Path.GetTempPath(), "obroker-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        try
        {
            int taken = ((IPEndPoint)occupant.LocalEndpoint).Port;
            await using var broker = new BrokerProcess(Path.Combine(root, "data"), taken, FreePorts.Take(1)[0], root);

            InvalidOperationException failure = await Assert.ThrowsAsync<InvalidOperationException>(broker.StartAsync);

            Assert.Contains("exited with code 1 before printing its start-up block", failure.Message, StringComparison.Ordinal);
            Assert.Contains($"error: port {taken} on 127.0.0.1 is in use", broker.RunOutput, StringComparison.Ordinal);
            Assert.Contains("set Broker:GatewayPort to a free port", broker.RunOutput, StringComparison.Ordinal);
            Assert.False(broker.IsRunning);
        }
        finally
        {
            occupant.Stop();
            Directory.Delete(root, recursive: true);
        }
    }

    // Regression: Orleans listens with port reuse, so a second broker on the same ports used to start and serve beside the first,
    // and clients reached either broker at random.
    [Fact]
    public async Task Start_PortsOfARunningBroker_SecondExitsWithCodeOneAndTheFirstKeepsServing()
    {
        string root = Path.Combine(Path.GetTempPath(), "obroker-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        try
        {
            await using var first = BrokerProcess.OnFreePorts(Path.Combine(root, "data1"), root);
            await first.StartAsync();
            await using var second = new BrokerProcess(Path.Combine(root, "data2"), first.GatewayPort, first.SiloPort, root);

            await Assert.ThrowsAsync<InvalidOperationException>(second.StartAsync);

            Assert.Contains($"error: port {first.GatewayPort} on 127.0.0.1 is in use", second.RunOutput, StringComparison.Ordinal);
            Assert.Contains($"error: port {first.SiloPort} on 127.0.0.1 is in use", second.RunOutput, StringComparison.Ordinal);
            Assert.False(second.IsRunning);
            Assert.True(first.IsRunning);
            Assert.False(Directory.Exists(Path.Combine(root, "data2", "topics")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // Regression (new-user run): a data directory that cannot be created was reported as "in use by another broker".
    [Fact]
    public async Task Start_DataDirectoryThatCannotBeCreated_ExitsNamingTheDirectoryNotAnotherBroker()
    {
        string root = Path.Combine(Path.GetTempPath(), "obroker-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        try
        {
            string file = Path.Combine(root, "a-file");
            await File.WriteAllTextAsync(file, "not a directory");
            string data = Path.Combine(file, "data");
            await using var broker = BrokerProcess.OnFreePorts(data, root);

            await Assert.ThrowsAsync<InvalidOperationException>(broker.StartAsync);

            Assert.Contains($"error: data directory {data} cannot be created (", broker.RunOutput, StringComparison.Ordinal);
            Assert.Contains("Set Broker:DataDirectory to a folder this process can create and write.", broker.RunOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("in use by another broker", broker.RunOutput, StringComparison.Ordinal);
            Assert.False(broker.IsRunning);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // Regression: a second broker on the same data directory used to start, and failed only at the first produce after 2 minutes
    // of retries ("still held by another writer").
    [Fact]
    public async Task Start_DataDirectoryOfARunningBroker_SecondExitsWithCodeOneNamingTheDirectory()
    {
        string root = Path.Combine(Path.GetTempPath(), "obroker-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        try
        {
            string data = Path.Combine(root, "data");
            await using var first = BrokerProcess.OnFreePorts(data, root);
            await first.StartAsync();
            await using var second = BrokerProcess.OnFreePorts(data, root);

            await Assert.ThrowsAsync<InvalidOperationException>(second.StartAsync);

            Assert.Contains($"error: data directory {data} is in use by another broker", second.RunOutput, StringComparison.Ordinal);
            Assert.False(second.IsRunning);
            Assert.True(first.IsRunning);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
