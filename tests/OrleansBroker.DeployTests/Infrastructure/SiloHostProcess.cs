using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>
/// The real silo host (<c>OrleansBroker.SiloHost.dll</c>, copied beside the tests by the project reference) run as a child process with
/// its output captured. On Linux and macOS it runs under a small <c>sh</c> guard that SIGKILLs it when this test process dies (the
/// guard reads our stdin pipe), so no silo outlives the run. <see cref="KillHard"/> sends SIGKILL to the silo itself.
/// </summary>
public sealed class SiloHostProcess : IAsyncDisposable
{
    /// <summary>The line the host prints once the silo has started.</summary>
    public const string StartedLine = "OrleansBroker silo started";

    /// <summary>The last line of the start-up block.</summary>
    public const string BannerEndLine = "Press Ctrl+C (SIGINT) or send SIGTERM to stop gracefully.";

    private const string PidMarker = "obroker-guard-pid ";
    private const string ExitMarker = "obroker-guard-exit ";

    // fd 3 keeps the real stdin (a background list's stdin is /dev/null); cat returns when our pipe closes, then the silo is killed.
    private const string GuardScript =
        "exec 3<&0; \"$@\" </dev/null & child=$!; echo \"" + PidMarker + "$child\"; "
        + "{ cat <&3 >/dev/null; kill -9 $child 2>/dev/null; } >/dev/null 2>&1 & "
        + "wait $child; code=$?; echo \"" + ExitMarker + "$code\"";

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _pid = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloHostProcess(string name, Process process, IReadOnlyList<string> arguments)
    {
        Name = name;
        _process = process;
        Arguments = arguments;
    }

    /// <summary>Full path of the silo host assembly run by <c>dotnet</c>.</summary>
    public static string HostAssemblyPath => Path.Combine(AppContext.BaseDirectory, "OrleansBroker.SiloHost.dll");

    /// <summary>A name for messages.</summary>
    public string Name { get; }

    /// <summary>The host's command-line arguments.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Completes when the host printed its whole start-up block (<see cref="StartedLine"/> to <see cref="BannerEndLine"/>); faults when it exits first.</summary>
    public Task Started => _started.Task;

    /// <summary>Completes with the host's exit code (137 after SIGKILL).</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>The last lines of stdout and stderr (stderr prefixed with <c>err: </c>).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Starts the host with <paramref name="arguments"/> (e.g. <c>--Broker:SiloPort=12000</c>).</summary>
    /// <param name="name">A name for messages.</param>
    /// <param name="arguments">Command-line arguments.</param>
    /// <param name="workingDirectory">Current directory of the host (relative data directories resolve against it).</param>
    /// <param name="environment">Environment variables to set (after the ones that could configure the silo were removed), or <c>null</c>.</param>
    /// <returns>The running process.</returns>
    public static SiloHostProcess Start(string name, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        string[] args = [.. arguments];
        var startInfo = new ProcessStartInfo
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsWindows())
        {
            startInfo.FileName = "dotnet";
        }
        else
        {
            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add(GuardScript);
            startInfo.ArgumentList.Add("obroker-silo-guard");
            startInfo.ArgumentList.Add("dotnet");
        }

        startInfo.ArgumentList.Add(HostAssemblyPath);
        foreach (string argument in args)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Only the arguments configure the silo: drop settings this test process may have in its environment.
        foreach (string key in startInfo.Environment.Keys.ToList())
        {
            if (key.StartsWith("Broker__", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("ORLEANS_", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("POD_", StringComparison.OrdinalIgnoreCase)
                || key is "DOTNET_ENVIRONMENT")
            {
                startInfo.Environment.Remove(key);
            }
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var silo = new SiloHostProcess(name, process, args);
        process.OutputDataReceived += (_, e) => silo.OnLine(e.Data, error: false);
        process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data, error: true);
        process.Exited += (_, _) => silo.OnGuardExited();
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start the silo host {name}.");
        }

        if (OperatingSystem.IsWindows())
        {
            silo._pid.TrySetResult(process.Id);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Waits until the silo has started.</summary>
    /// <param name="timeout">The longest wait.</param>
    /// <returns>A task that completes when started.</returns>
    /// <exception cref="TimeoutException">Not started in time; the message holds the host's output.</exception>
    /// <exception cref="InvalidOperationException">The host exited before starting; the message holds its output.</exception>
    public async Task WaitStartedAsync(TimeSpan timeout)
    {
        try
        {
            await Started.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Silo {Name} did not print '{StartedLine}' within {timeout.TotalSeconds:0} s. Output:\n{Output}");
        }
    }

    /// <summary>Waits for the host to exit and returns its exit code.</summary>
    /// <param name="timeout">The longest wait.</param>
    /// <returns>The exit code.</returns>
    /// <exception cref="TimeoutException">Still running; the message holds its output.</exception>
    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        try
        {
            return await Exited.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Silo {Name} did not exit within {timeout.TotalSeconds:0} s. Output:\n{Output}");
        }
    }

    /// <summary>Sends SIGKILL to the silo process (not its guard), as a crashed machine would: no graceful stop, no lease release.</summary>
    /// <returns>A task that completes when the process is gone.</returns>
    public async Task KillHard()
    {
        int pid = await _pid.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using (var silo = Process.GetProcessById(pid))
        {
            silo.Kill();
        }

        _ = await WaitExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Kills the guard and the silo (SIGKILL) if still running.</summary>
    /// <returns>A task that completes when they are gone.</returns>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception or IOException)
        {
            // Already gone; the guard kills the silo when our stdin pipe closes anyway.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnLine(string? line, bool error)
    {
        if (line is null)
        {
            return;
        }

        if (!error && line.StartsWith(PidMarker, StringComparison.Ordinal))
        {
            _pid.TrySetResult(int.Parse(line.AsSpan(PidMarker.Length), CultureInfo.InvariantCulture));
            return;
        }

        if (!error && line.StartsWith(ExitMarker, StringComparison.Ordinal))
        {
            OnSiloExited(int.Parse(line.AsSpan(ExitMarker.Length), CultureInfo.InvariantCulture));
            return;
        }

        _output.Enqueue(error ? "err: " + line : line);
        while (_output.Count > 400 && _output.TryDequeue(out _))
        {
        }

        if (!error && line.Contains(BannerEndLine, StringComparison.Ordinal))
        {
            _started.TrySetResult();
        }
    }

    private void OnGuardExited()
    {
        if (OperatingSystem.IsWindows())
        {
            OnSiloExited(_process.ExitCode);
        }
        else
        {
            // The exit line may still be in the pipe; if the guard itself was killed, report that.
            _ = Task.Run(async () =>
            {
                await _process.WaitForExitAsync();
                OnSiloExited(-1);
            });
        }
    }

    private void OnSiloExited(int code)
    {
        if (_exited.TrySetResult(code))
        {
            _started.TrySetException(new InvalidOperationException($"Silo {Name} exited with code {code} before it started. Output:\n{Output}"));
        }
    }
}
