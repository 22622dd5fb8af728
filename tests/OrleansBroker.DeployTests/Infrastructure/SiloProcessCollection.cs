using OrleansBroker.Testing;
namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>
/// The tests that start silo-host processes: run one at a time (not beside each other), so start times, throughput and failover times
/// are measured on a machine not shared with another test's silos.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloProcessCollection : ICollectionFixture<SharedAzurite>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Silo processes";

    /// <summary>Longest wait for a silo host to print that it started (cold JIT, Azure table join).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
}

/// <summary>Arguments for one silo host on free ports with a temporary working directory.</summary>
public sealed class SiloLaunch : IDisposable
{
    /// <summary>Chooses free ports and creates the working directory.</summary>
    /// <param name="name">A name for messages and the directory.</param>
    /// <param name="healthPort">True to give the host a free health port; false to disable the endpoint (port 0).</param>
    public SiloLaunch(string name, bool healthPort = false)
    {
        Name = name;
        int[] ports = FreePorts.Take(3);
        SiloPort = ports[0];
        GatewayPort = ports[1];
        HealthPort = healthPort ? ports[2] : 0;
        WorkingDirectory = Directory.CreateTempSubdirectory($"obroker-{name}-").FullName;
    }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>Gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>Health port, 0 when disabled.</summary>
    public int HealthPort { get; }

    /// <summary>The host's current directory; its data directory is <c>data</c> below it.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The gateway as <c>127.0.0.1:port</c>.</summary>
    public string Gateway => $"127.0.0.1:{GatewayPort}";

    /// <summary>The ports and data directory as host arguments, followed by <paramref name="extra"/>.</summary>
    /// <param name="extra">More arguments.</param>
    /// <returns>The arguments.</returns>
    public IEnumerable<string> Arguments(params string[] extra) =>
    [
        $"--Broker:SiloPort={SiloPort}",
        $"--Broker:GatewayPort={GatewayPort}",
        $"--Broker:HealthPort={HealthPort}",
        $"--Broker:DataDirectory={Path.Combine(WorkingDirectory, "data")}",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
        .. extra,
    ];

    /// <summary>Starts the host.</summary>
    /// <param name="extra">More arguments.</param>
    /// <returns>The process.</returns>
    public SiloHostProcess Start(params string[] extra) => SiloHostProcess.Start(Name, Arguments(extra), WorkingDirectory);

    /// <summary>Starts the host with environment variables.</summary>
    /// <param name="environment">Variables to set.</param>
    /// <param name="extra">More arguments.</param>
    /// <returns>The process.</returns>
    public SiloHostProcess Start(IReadOnlyDictionary<string, string> environment, params string[] extra) =>
        SiloHostProcess.Start(Name, Arguments(extra), WorkingDirectory, environment);

    /// <summary>Removes the working directory.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(WorkingDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary folder; the OS cleans it.
        }
    }
}
