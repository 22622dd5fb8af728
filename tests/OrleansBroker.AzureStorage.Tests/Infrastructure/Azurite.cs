using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;

namespace OrleansBroker.AzureStorage.Tests.Infrastructure;

/// <summary>Which Azurite services to start.</summary>
[Flags]
public enum AzuriteServices
{
    /// <summary>Blob service only (<c>azurite-blob</c>).</summary>
    Blob = 1,

    /// <summary>Queue service.</summary>
    Queue = 2,

    /// <summary>Table service (Orleans clustering).</summary>
    Table = 4,

    /// <summary>Blob, queue and table (<c>azurite</c>).</summary>
    All = Blob | Queue | Table,
}

/// <summary>
/// A running Azurite (the Azure Storage emulator) on 127.0.0.1: either a child process this class started on free ports, or an
/// instance named by the environment. Reusable by any test project (log store tests, multi-silo cluster tests).
/// </summary>
/// <remarks>
/// Azurite is looked up in <c>{repo}/.azurite/node_modules/.bin</c> (where <c>.ci/install-azurite.sh</c> puts it), then on PATH, and
/// installed into <c>{repo}/.azurite</c> with npm when missing (into a staging directory first, renamed into place when complete, so
/// test processes installing at the same time never see a half-written install). It runs with <c>--inMemoryPersistence --skipApiVersionCheck --silent
/// --disableTelemetry</c>; on Linux and macOS behind a small <c>sh</c> guard that kills it when the test process dies, so it never
/// outlives the run.
/// </remarks>
public sealed class Azurite : IAsyncDisposable
{
    /// <summary>The Azurite version installed when missing (same as <c>.ci/install-azurite.sh</c>).</summary>
    public const string Version = "3.37.0";

    /// <summary>Azurite's well-known development account.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development account key (public, from the Azurite documentation).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Environment variable holding a full connection string to an Azurite already running on this machine.</summary>
    public const string ConnectionStringVariable = "AZURITE_CONNECTION_STRING";

    /// <summary>Environment variable holding the blob endpoint of an Azurite already running, e.g. <c>http://127.0.0.1:10000/devstoreaccount1</c>.</summary>
    public const string BlobEndpointVariable = "AZURITE_BLOB_ENDPOINT";

    /// <summary>How long Azurite may take to listen after it was started.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long an npm install of Azurite may take.</summary>
    public static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);

    private static readonly SemaphoreSlim InstallLock = new(1, 1);

    private readonly Process? _process;
    private readonly string? _workDirectory;

    private Azurite(string connectionString, int blobPort, int queuePort, int tablePort, Process? process, string? workDirectory, string command)
    {
        ConnectionString = connectionString;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
        _process = process;
        _workDirectory = workDirectory;
        Command = command;
    }

    /// <summary>Connection string for the services started (the development account on 127.0.0.1).</summary>
    public string ConnectionString { get; }

    /// <summary>Blob service port; 0 when not started.</summary>
    public int BlobPort { get; }

    /// <summary>Queue service port; 0 when not started.</summary>
    public int QueuePort { get; }

    /// <summary>Table service port; 0 when not started.</summary>
    public int TablePort { get; }

    /// <summary>The command line that started Azurite, or where the environment's instance came from.</summary>
    public string Command { get; }

    /// <summary>True when this instance started the Azurite process (and kills it on dispose).</summary>
    public bool OwnsProcess => _process is not null;

    /// <summary>Time taken by the last npm install this process ran; <c>null</c> when none was needed.</summary>
    public static TimeSpan? LastInstallDuration { get; private set; }

    /// <summary>The development-account connection string for the given ports (0: service absent).</summary>
    public static string BuildConnectionString(int blobPort, int queuePort = 0, int tablePort = 0)
    {
        var parts = new List<string> { "DefaultEndpointsProtocol=http", $"AccountName={AccountName}", $"AccountKey={AccountKey}" };
        if (blobPort > 0)
        {
            parts.Add($"BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName}");
        }

        if (queuePort > 0)
        {
            parts.Add($"QueueEndpoint=http://127.0.0.1:{queuePort}/{AccountName}");
        }

        if (tablePort > 0)
        {
            parts.Add($"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName}");
        }

        return string.Join(';', parts) + ";";
    }

    /// <summary>
    /// Uses the Azurite named by <see cref="ConnectionStringVariable"/> or <see cref="BlobEndpointVariable"/> when set, on a loopback
    /// address and reachable; otherwise starts one (installing it first when missing).
    /// </summary>
    public static async Task<Azurite> FromEnvironmentOrStartAsync(AzuriteServices services, CancellationToken cancellationToken = default) =>
        await FromEnvironmentAsync(cancellationToken) ?? await StartAsync(services, cancellationToken);

    /// <summary>The Azurite named by the environment, or <c>null</c> when none is set, it is not on a loopback address, or it does not answer.</summary>
    public static async Task<Azurite?> FromEnvironmentAsync(CancellationToken cancellationToken = default)
    {
        string? connectionString = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        string? blobEndpoint = Environment.GetEnvironmentVariable(BlobEndpointVariable);
        if (string.IsNullOrWhiteSpace(connectionString) && !string.IsNullOrWhiteSpace(blobEndpoint))
        {
            connectionString = $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint={blobEndpoint.TrimEnd('/')};";
        }

        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }

        Uri? blob = FindEndpoint(connectionString, "BlobEndpoint");
        if (blob is null || !IPAddress.TryParse(blob.Host, out var address) || !IPAddress.IsLoopback(address))
        {
            return null;
        }

        if (!await CanConnectAsync(blob.Port, cancellationToken))
        {
            return null;
        }

        return new Azurite(
            connectionString,
            blob.Port,
            FindEndpoint(connectionString, "QueueEndpoint")?.Port ?? 0,
            FindEndpoint(connectionString, "TableEndpoint")?.Port ?? 0,
            process: null,
            workDirectory: null,
            command: "environment");
    }

    /// <summary>Starts Azurite on free loopback ports and waits until every started service accepts TCP connections.</summary>
    /// <exception cref="InvalidOperationException">Azurite is missing and cannot be installed, or it exited or did not listen within <see cref="StartTimeout"/>; the message names the command and its output.</exception>
    public static async Task<Azurite> StartAsync(AzuriteServices services = AzuriteServices.Blob, CancellationToken cancellationToken = default)
    {
        bool blobOnly = services == AzuriteServices.Blob;
        string executable = await EnsureInstalledAsync(blobOnly ? "azurite-blob" : "azurite", cancellationToken);
        for (int attempt = 1; ; attempt++)
        {
            // Ports are picked free but released before Azurite binds them, so another process can take one in between:
            // a start that exits early (port clash) is retried on new ports.
            int[] ports = FreePorts(blobOnly ? 1 : 3);
            try
            {
                return await StartOnPortsAsync(executable, blobOnly, ports[0], blobOnly ? 0 : ports[1], blobOnly ? 0 : ports[2], cancellationToken);
            }
            catch (AzuriteExitedException) when (attempt < 3)
            {
            }
        }
    }

    private static async Task<Azurite> StartOnPortsAsync(string executable, bool blobOnly, int blobPort, int queuePort, int tablePort, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString() };
        if (!blobOnly)
        {
            arguments.AddRange(["--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(), "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString()]);
        }

        arguments.AddRange(["--skipApiVersionCheck", "--silent", "--disableTelemetry"]);
        string workDirectory = Directory.CreateTempSubdirectory("obroker-azurite-").FullName;
        try
        {
            try
            {
                return await LaunchAsync(executable, [.. arguments, "--inMemoryPersistence"], workDirectory, blobPort, queuePort, tablePort, cancellationToken);
            }
            catch (AzuriteExitedException e) when (e.Output.Contains("inMemoryPersistence", StringComparison.OrdinalIgnoreCase))
            {
                // An Azurite without in-memory persistence: keep its files in the temporary work directory instead.
                return await LaunchAsync(executable, [.. arguments, "--location", workDirectory], workDirectory, blobPort, queuePort, tablePort, cancellationToken);
            }
        }
        catch
        {
            TryDeleteDirectory(workDirectory);
            throw;
        }
    }

    /// <summary>Kills the Azurite process this instance started (if any) and removes its work directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or it will be reaped with the test process.
        }
        finally
        {
            _process.Dispose();
            if (_workDirectory is not null)
            {
                TryDeleteDirectory(_workDirectory);
            }
        }
    }

    /// <summary>
    /// The repository root (the folder holding OrleansBroker.sln): from <c>OBROKER_REPO_ROOT</c>, else walking up from the test binaries,
    /// else the source folder recorded at build time (binaries built with an artifacts path outside the repository), else the working directory.
    /// </summary>
    public static string FindRepoRoot()
    {
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("OBROKER_REPO_ROOT"),
            AppContext.BaseDirectory,
            typeof(Azurite).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepoRoot")?.Value,
            Directory.GetCurrentDirectory(),
        };
        foreach (string? start in candidates)
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansBroker.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"OrleansBroker.sln not found above {AppContext.BaseDirectory}; set OBROKER_REPO_ROOT.");
    }

    /// <summary>Finds <paramref name="command"/> (<c>azurite</c>, <c>azurite-blob</c>, <c>azurite-table</c>), installing Azurite into <c>{repo}/.azurite</c> when missing.</summary>
    /// <returns>The executable's full path.</returns>
    public static async Task<string> EnsureInstalledAsync(string command = "azurite", CancellationToken cancellationToken = default)
    {
        string installDirectory = Path.Combine(FindRepoRoot(), ".azurite");
        string? found = FindExecutable(command, installDirectory);
        if (found is not null)
        {
            return found;
        }

        await InstallLock.WaitAsync(cancellationToken);
        try
        {
            found = FindExecutable(command, installDirectory);
            if (found is not null)
            {
                return found;
            }

            // Test projects run in parallel processes, and two npm installs into one prefix break each other (a module of one install
            // removed by the other: "Cannot find module"). Each process installs into a directory of its own and renames it into place
            // in one step, so {repo}/.azurite appears complete or not at all; the loser of the race uses the winner's install.
            string staging = installDirectory + ".staging-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            DeleteQuietly(staging);
            Directory.CreateDirectory(staging);
            try
            {
                string[] npmArguments = ["install", "--prefix", staging, $"azurite@{Version}", "--no-audit", "--no-fund"];
                var stopwatch = Stopwatch.StartNew();
                var (exitCode, output) = await RunToEndAsync(OperatingSystem.IsWindows() ? "npm.cmd" : "npm", npmArguments, InstallTimeout, cancellationToken);
                LastInstallDuration = stopwatch.Elapsed;
                if (exitCode != 0 || FindExecutable(command, staging, searchPath: false) is null)
                {
                    throw new InvalidOperationException(
                        $"Installing Azurite failed (exit code {exitCode}): npm {string.Join(' ', npmArguments)}. Run .ci/install-azurite.sh, or set {ConnectionStringVariable}.\n{output}");
                }

                try
                {
                    Directory.Move(staging, installDirectory);
                }
                catch (IOException) when (FindExecutable(command, installDirectory, searchPath: false) is not null)
                {
                    // Another process renamed its install into place first.
                }
                catch (IOException ex)
                {
                    // Not a complete install in the way (one an earlier installer left half-written by npm): not replaced under a
                    // process that may be using it.
                    throw new InvalidOperationException($"{installDirectory} holds no '{command}' (an incomplete install). Delete {installDirectory} and run .ci/install-azurite.sh.", ex);
                }
            }
            finally
            {
                DeleteQuietly(staging); // also after a failed, timed-out or cancelled npm: a staging directory of another process id is never reused
            }

            found = FindExecutable(command, installDirectory, searchPath: false)
                ?? throw new InvalidOperationException($"Azurite was installed, but {installDirectory} holds no '{command}'. Delete {installDirectory} and run .ci/install-azurite.sh.");
            return found;
        }
        finally
        {
            InstallLock.Release();
        }
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover staging directory is harmless: the next install of this process id starts by deleting it again.
        }
    }

    private static string? FindExecutable(string command, string installDirectory, bool searchPath = true)
    {
        string fileName = OperatingSystem.IsWindows() ? command + ".cmd" : command;
        string local = Path.Combine(installDirectory, "node_modules", ".bin", fileName);
        if (File.Exists(local))
        {
            return local;
        }

        if (!searchPath)
        {
            return null;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static async Task<Azurite> LaunchAsync(
        string executable,
        IReadOnlyList<string> arguments,
        string workDirectory,
        int blobPort,
        int queuePort,
        int tablePort,
        CancellationToken cancellationToken)
    {
        string command = executable + " " + string.Join(' ', arguments);
        var startInfo = new ProcessStartInfo
        {
            WorkingDirectory = workDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsWindows())
        {
            startInfo.FileName = executable;
        }
        else
        {
            // Guard: Azurite runs as a child of sh. A background watcher waits on sh's stdin (our pipe): when this test process
            // dies the pipe closes and the watcher kills Azurite. sh itself waits for Azurite and exits with its code, so an
            // Azurite that exits early (a port clash) is seen at once. On a normal dispose the whole tree is killed. The pipe is
            // passed on fd 3 because a non-interactive sh gives background jobs /dev/null as stdin.
            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add("exec 3<&0; \"$@\" & child=$!; (cat <&3 >/dev/null; kill $child 2>/dev/null) & wait $child");
            startInfo.ArgumentList.Add("azurite-guard");
            startInfo.ArgumentList.Add(executable);
        }

        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var output = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start Azurite: {command}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var azurite = new Azurite(BuildConnectionString(blobPort, queuePort, tablePort), blobPort, queuePort, tablePort, process, workDirectory: null, command);
        try
        {
            var deadline = Stopwatch.StartNew();
            foreach (int port in new[] { blobPort, queuePort, tablePort }.Where(p => p > 0))
            {
                while (!await CanConnectAsync(port, cancellationToken))
                {
                    if (process.HasExited)
                    {
                        string text = string.Join('\n', output);
                        throw new AzuriteExitedException($"Azurite exited with code {process.ExitCode} before listening on 127.0.0.1:{port}. Command: {command}\n{text}", text);
                    }

                    if (deadline.Elapsed > StartTimeout)
                    {
                        throw new InvalidOperationException(
                            $"Azurite did not listen on 127.0.0.1:{port} within {StartTimeout.TotalSeconds:0} s. Command: {command}\n{string.Join('\n', output)}");
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
                }
            }

            return new Azurite(azurite.ConnectionString, blobPort, queuePort, tablePort, process, workDirectory, command);
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    private static void Keep(ConcurrentQueue<string> output, string? line)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(line);
        while (output.Count > 200 && output.TryDequeue(out _))
        {
        }
    }

    private static async Task<(int ExitCode, string Output)> RunToEndAsync(string fileName, string[] arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static int[] FreePorts(int count)
    {
        // Hold every listener until all ports are chosen, so the ports differ from each other.
        var listeners = new TcpListener[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (TcpListener? listener in listeners)
            {
                listener?.Stop();
            }
        }
    }

    private static async Task<bool> CanConnectAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static Uri? FindEndpoint(string connectionString, string key)
    {
        foreach (string part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq > 0 && part[..eq].Trim().Equals(key, StringComparison.OrdinalIgnoreCase)
                && Uri.TryCreate(part[(eq + 1)..].Trim(), UriKind.Absolute, out var uri))
            {
                return uri;
            }
        }

        if (key == "BlobEndpoint" && connectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase))
        {
            return new Uri($"http://127.0.0.1:10000/{AccountName}");
        }

        return null;
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary folder; the OS cleans it.
        }
    }

    private sealed class AzuriteExitedException(string message, string output) : InvalidOperationException(message)
    {
        public string Output { get; } = output;
    }
}
