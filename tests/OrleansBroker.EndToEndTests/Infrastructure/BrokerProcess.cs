using OrleansBroker.Testing;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>How a silo host run ended.</summary>
/// <param name="ExitCode">The process's exit code (128 + signal number when a signal ended it, e.g. 137 for SIGKILL).</param>
/// <param name="Elapsed">From sending the signal to the process having exited.</param>
public sealed record BrokerExit(int ExitCode, TimeSpan Elapsed);

/// <summary>
/// The built silo host (<c>dotnet OrleansBroker.SiloHost.dll</c>) as a child process on fixed ports and a data directory, so it can be
/// stopped (SIGTERM), crashed (SIGKILL) and started again on the same data and ports. Captures stdout and stderr of every run in
/// <see cref="Output"/>. Disposing kills a running process. Linux and macOS only (signals).
/// </summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    /// <summary>Bound on a start: until the start-up block is printed and the gateway accepts a connection.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Bound on a graceful stop; the host's own shutdown timeout is 30 s.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(45);

    /// <summary>The last line of the host's start-up block, which it prints once the silo has started.</summary>
    private const string ReadyMarker = "Press Ctrl+C";

    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private Process? _process;
    private int _runOutputStart;
    private int _runs;

    /// <summary>Creates the handle; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <param name="dataDirectory">Passed as <c>--Broker:DataDirectory</c>; made absolute.</param>
    /// <param name="gatewayPort">Passed as <c>--Broker:GatewayPort</c>.</param>
    /// <param name="siloPort">Passed as <c>--Broker:SiloPort</c>.</param>
    /// <param name="workingDirectory">Current directory of the process.</param>
    public BrokerProcess(string dataDirectory, int gatewayPort, int siloPort, string workingDirectory)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        GatewayPort = gatewayPort;
        SiloPort = siloPort;
        WorkingDirectory = workingDirectory;
    }

    /// <summary>A handle on two free loopback ports.</summary>
    /// <param name="dataDirectory">The data directory.</param>
    /// <param name="workingDirectory">Current directory of the process.</param>
    /// <returns>The handle, not started.</returns>
    public static BrokerProcess OnFreePorts(string dataDirectory, string workingDirectory)
    {
        int[] ports = FreePorts.Take(2);
        return new BrokerProcess(dataDirectory, ports[0], ports[1], workingDirectory);
    }

    /// <summary>The data directory (absolute).</summary>
    public string DataDirectory { get; }

    /// <summary>Client gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>Current directory of the process.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The gateway as <c>host:port</c>, for the CLI's <c>--gateway</c>.</summary>
    public string Gateway => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{GatewayPort}");

    /// <summary>Whether a started process has not exited yet.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Everything every run printed (stdout and stderr interleaved by line), each run headed by a marker line.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>What the current (or last) run printed.</summary>
    public string RunOutput
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString(_runOutputStart, _output.Length - _runOutputStart);
            }
        }
    }

    /// <summary>
    /// Starts the silo host and waits, bounded by <see cref="StartTimeout"/>, until it has printed its start-up block and its gateway
    /// accepts a TCP connection.
    /// </summary>
    /// <returns>The time from process start to ready.</returns>
    /// <exception cref="InvalidOperationException">Already running, or the process exited, timed out or did not accept a connection; the message has the output.</exception>
    public async Task<TimeSpan> StartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("The silo host is already running.");
        }

        _process?.Dispose();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo(ToolPaths.DotnetHost)
        {
            WorkingDirectory = WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ToolPaths.SiloHost);
        start.ArgumentList.Add("--Broker:DataDirectory");
        start.ArgumentList.Add(DataDirectory);
        start.ArgumentList.Add("--Broker:GatewayPort");
        start.ArgumentList.Add(GatewayPort.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--Broker:SiloPort");
        start.ArgumentList.Add(SiloPort.ToString(CultureInfo.InvariantCulture));

        // No HTTP health endpoint: its default port (8080) would clash between silos running at the same time.
        start.ArgumentList.Add("--Broker:HealthPort");
        start.ArgumentList.Add("0");

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => OnLine(e.Data, ready);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, ready);
        lock (_gate)
        {
            _runs++;
            _runOutputStart = _output.Length;
            _output.Append(CultureInfo.InvariantCulture, $"===== silo host run {_runs}: gateway {GatewayPort}, silo {SiloPort}, data {DataDirectory} =====\n");
        }

        var stopwatch = Stopwatch.StartNew();
        process.Start();
        _process = process;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        Task exited = process.WaitForExitAsync();
        try
        {
            Task first = await Task.WhenAny(ready.Task, exited).WaitAsync(StartTimeout);
            if (first == exited)
            {
                await exited;
                throw new InvalidOperationException($"The silo host exited with code {process.ExitCode} before printing its start-up block.\n{RunOutput}");
            }
        }
        catch (TimeoutException)
        {
            Kill();
            throw new InvalidOperationException($"The silo host did not print its start-up block within {StartTimeout.TotalSeconds:0} s.\n{RunOutput}");
        }

        try
        {
            using var client = new TcpClient();
            using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(IPAddress.Loopback, GatewayPort, connectTimeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            Kill();
            throw new InvalidOperationException($"The silo host printed its start-up block but its gateway 127.0.0.1:{GatewayPort} does not accept connections: {ex.Message}\n{RunOutput}", ex);
        }

        // The block says where the silo listens and where its data is.
        string block = RunOutput;
        if (!Regex.IsMatch(block, $@"Gateway \(clients\)\s*:\s*127\.0\.0\.1:{GatewayPort}\b") ||
            !Regex.IsMatch(block, $@"Data directory\s*:\s*{Regex.Escape(DataDirectory)}\s*$", RegexOptions.Multiline))
        {
            Kill();
            throw new InvalidOperationException($"The start-up block does not show gateway 127.0.0.1:{GatewayPort} and data directory {DataDirectory}.\n{block}");
        }

        return stopwatch.Elapsed;
    }

    /// <summary>Sends SIGTERM (graceful stop) and waits, bounded by <see cref="StopTimeout"/>, for the process to exit.</summary>
    /// <returns>The exit code and how long the stop took.</returns>
    /// <exception cref="InvalidOperationException">Not running, or it did not exit in time (it is then killed); the message has the output.</exception>
    public async Task<BrokerExit> StopAsync()
    {
        Process process = RunningProcess();
        var stopwatch = Stopwatch.StartNew();
        await SendSignalAsync(process.Id, "TERM");
        return await WaitForExitAsync(process, stopwatch, "SIGTERM");
    }

    /// <summary>Sends SIGKILL (a crash: no flush, no snapshot) and waits for the process to exit.</summary>
    /// <returns>The exit code (137) and how long the kill took.</returns>
    /// <exception cref="InvalidOperationException">Not running, or it did not exit in time.</exception>
    public async Task<BrokerExit> KillAsync()
    {
        Process process = RunningProcess();
        var stopwatch = Stopwatch.StartNew();
        process.Kill(); // SIGKILL on Unix.
        return await WaitForExitAsync(process, stopwatch, "SIGKILL");
    }

    /// <summary>Kills a running process and waits for it.</summary>
    /// <returns>A task that completes when the process is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                Kill();
                try
                {
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
                }
                catch (TimeoutException)
                {
                    // Nothing more to do: the process ignores SIGKILL only when the kernel is stuck.
                }
            }

            process.Dispose();
            _process = null;
        }
    }

    private static async Task SendSignalAsync(int pid, string signal)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Stopping the silo host with SIGTERM needs a Unix-like OS.");
        }

        var start = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        start.ArgumentList.Add("-" + signal);
        start.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using Process kill = Process.Start(start) ?? throw new InvalidOperationException("Could not start 'kill'.");
        string error = await kill.StandardError.ReadToEndAsync();
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"'kill -{signal} {pid}' failed with exit code {kill.ExitCode}: {error}");
        }
    }

    private Process RunningProcess() =>
        _process is { HasExited: false } process ? process : throw new InvalidOperationException("The silo host is not running.");

    private async Task<BrokerExit> WaitForExitAsync(Process process, Stopwatch stopwatch, string how)
    {
        try
        {
            // Also waits until the redirected output is drained.
            await process.WaitForExitAsync().WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new InvalidOperationException($"The silo host did not exit within {StopTimeout.TotalSeconds:0} s of {how}; killed.\n{RunOutput}");
        }

        return new BrokerExit(process.ExitCode, stopwatch.Elapsed);
    }

    private void Kill()
    {
        try
        {
            _process?.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    private void OnLine(string? line, TaskCompletionSource ready)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.Append(line).Append('\n');
        }

        if (line.TrimStart().StartsWith(ReadyMarker, StringComparison.Ordinal))
        {
            ready.TrySetResult();
        }
    }
}
