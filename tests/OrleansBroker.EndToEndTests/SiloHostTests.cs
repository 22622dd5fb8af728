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
            Assert.Contains("error: the silo did not start: Address already in use", broker.RunOutput, StringComparison.Ordinal);
            Assert.False(broker.IsRunning);
        }
        finally
        {
            occupant.Stop();
            Directory.Delete(root, recursive: true);
        }
    }
}
