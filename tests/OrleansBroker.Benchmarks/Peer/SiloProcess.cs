using System.Diagnostics;
using System.Globalization;
using OrleansBroker.Client;

namespace OrleansBroker.Benchmarks.Peer;

/// <summary>
/// Our broker as a separate process: <c>dotnet OrleansBroker.SiloHost.dll</c> on free ports and a temporary data directory, with its
/// output in <c>silo.log</c> there. Killed (and the directory deleted) on dispose, Ctrl+C or exit.
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly bool _keepData;
    private StreamWriter? _log;

    private SiloProcess(Process process, string directory, int gatewayPort, bool keepData, StreamWriter log)
    {
        Process = process;
        Directory = directory;
        GatewayPort = gatewayPort;
        _keepData = keepData;
        _log = log;
    }

    public Process Process { get; }

    public string Directory { get; }

    public int GatewayPort { get; }

    public string LogPath => Path.Combine(Directory, "silo.log");

    /// <summary>Finds the built silo host: an explicit path, the artifacts layout beside this program, or the classic bin/ layout.</summary>
    public static string FindSiloHost(string? explicitPath)
    {
        if (explicitPath is not null)
        {
            return File.Exists(explicitPath) ? Path.GetFullPath(explicitPath) : throw new FileNotFoundException($"No silo host at '{explicitPath}'.");
        }

        string self = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var candidates = new List<string>();

        // --artifacts-path layout: <artifacts>/bin/OrleansBroker.Benchmarks/<config> -> <artifacts>/bin/OrleansBroker.SiloHost/<config>
        string config = Path.GetFileName(self);
        string? binRoot = Path.GetDirectoryName(Path.GetDirectoryName(self));
        if (binRoot is not null)
        {
            candidates.Add(Path.Combine(binRoot, "OrleansBroker.SiloHost", config, "OrleansBroker.SiloHost.dll"));
        }

        // Classic layout: tests/OrleansBroker.Benchmarks/bin/<Config>/<tfm> -> silo-host/OrleansBroker.SiloHost/bin/<Config>/<tfm>
        string marker = Path.Combine("tests", "OrleansBroker.Benchmarks", "bin");
        int at = self.IndexOf(marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            candidates.Add(Path.Combine(self[..at] + Path.Combine("silo-host", "OrleansBroker.SiloHost", "bin") + self[(at + marker.Length)..], "OrleansBroker.SiloHost.dll"));
        }

        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                "The silo host is not built next to this program (looked at: " + string.Join(", ", candidates) +
                "). Build it with the same configuration (dotnet build -c Release silo-host/OrleansBroker.SiloHost) or pass --silo-host PATH.");
    }

    public static async Task<SiloProcess> StartAsync(string siloHostDll, bool keepData, IReadOnlyList<string> extraArgs, CancellationToken cancellationToken)
    {
        string directory = Path.Combine(Path.GetTempPath(), "obroker-peer-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        if (!keepData)
        {
            ChildProcesses.TrackDirectory(directory);
        }

        int gatewayPort = ChildProcesses.FreePort();
        int siloPort = ChildProcesses.FreePort();
        var start = new ProcessStartInfo(ChildProcesses.DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        start.ArgumentList.Add(siloHostDll);
        foreach (string a in (string[])[
            "--Broker:DataDirectory", Path.Combine(directory, "data"),
            "--Broker:GatewayPort", gatewayPort.ToString(CultureInfo.InvariantCulture),
            "--Broker:SiloPort", siloPort.ToString(CultureInfo.InvariantCulture),
            .. extraArgs])
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the silo host.");
        ChildProcesses.Track(process);
        var log = new StreamWriter(Path.Combine(directory, "silo.log")) { AutoFlush = true };
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writeLock = new Lock();
        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (writeLock)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                    // Output after the silo was stopped.
                }
            }

            if (line.Contains("OrleansBroker silo started", StringComparison.Ordinal))
            {
                started.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var silo = new SiloProcess(process, directory, gatewayPort, keepData, log);
        try
        {
            Task exited = process.WaitForExitAsync(cancellationToken);
            Task first = await Task.WhenAny(started.Task, exited, Task.Delay(TimeSpan.FromSeconds(90), cancellationToken));
            if (first != started.Task)
            {
                throw new InvalidOperationException($"The silo host did not start (see {silo.LogPath}).");
            }

            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    /// <summary>Batches and bytes in a topic's segment files (walks batch lengths; for the batch-size figures of a run).</summary>
    public (long Batches, long Bytes) CountBatches(string topic)
    {
        long batches = 0;
        long bytes = 0;
        string topics = Path.Combine(Directory, "data", "topics");
        if (!System.IO.Directory.Exists(topics))
        {
            return (0, 0);
        }

        Span<byte> header = stackalloc byte[12];
        foreach (string partition in System.IO.Directory.GetDirectories(topics, topic + "-*"))
        {
            foreach (string segment in System.IO.Directory.GetFiles(partition, "*.log"))
            {
                using var file = new FileStream(segment, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                long position = 0;
                while (position + 12 <= file.Length)
                {
                    file.Position = position;
                    file.ReadExactly(header);
                    int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header[8..]);
                    if (length <= 0)
                    {
                        break;
                    }

                    batches++;
                    bytes += 12 + length;
                    position += 12 + length;
                }
            }
        }

        return (batches, bytes);
    }

    public Task<BrokerClient> ConnectAsync(CancellationToken cancellationToken) =>
        BrokerClient.ConnectAsync(new BrokerClientOptions { Gateways = [$"127.0.0.1:{GatewayPort.ToString(CultureInfo.InvariantCulture)}"] }, cancellationToken);

    public ValueTask DisposeAsync()
    {
        ChildProcesses.Kill(Process);
        try
        {
            Process.WaitForExit(); // Drains the redirected output.
        }
        catch (InvalidOperationException)
        {
        }

        Process.Dispose();
        _log?.Dispose();
        _log = null;
        if (!_keepData)
        {
            ChildProcesses.DeleteDirectory(Directory);
        }

        return ValueTask.CompletedTask;
    }
}
