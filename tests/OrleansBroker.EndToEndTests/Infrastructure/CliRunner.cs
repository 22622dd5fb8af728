using System.Diagnostics;
using System.Text;

namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>One finished <c>obroker</c> run.</summary>
/// <param name="Arguments">The arguments after <c>obroker.dll</c>.</param>
/// <param name="ExitCode">The exit code.</param>
/// <param name="StdoutPath">File holding the run's stdout bytes, unchanged.</param>
/// <param name="Stderr">The run's stderr.</param>
/// <param name="Elapsed">Wall time of the process, start-up included.</param>
public sealed record CliResult(IReadOnlyList<string> Arguments, int ExitCode, string StdoutPath, string Stderr, TimeSpan Elapsed)
{
    /// <summary>stdout as raw bytes.</summary>
    /// <returns>The bytes.</returns>
    public byte[] StdoutBytes() => File.ReadAllBytes(StdoutPath);

    /// <summary>stdout decoded as UTF-8.</summary>
    /// <returns>The text.</returns>
    public string Stdout() => File.ReadAllText(StdoutPath, Encoding.UTF8);

    /// <summary>The non-empty lines of stderr.</summary>
    /// <returns>The lines.</returns>
    public string[] StderrLines() => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A description for assertion messages: the command, exit code, stderr and the start of stdout.</summary>
    /// <returns>Several lines of text.</returns>
    public string Describe()
    {
        string stdout = File.Exists(StdoutPath) ? Stdout() : "";
        if (stdout.Length > 2000)
        {
            stdout = stdout[..2000] + $"... ({stdout.Length} chars)";
        }

        return $"obroker {string.Join(' ', Arguments)}\nexit code {ExitCode} after {Elapsed.TotalSeconds:F2} s\n--- stderr ---\n{Stderr}\n--- stdout ---\n{stdout}";
    }
}

/// <summary>
/// Runs the built CLI (<c>dotnet obroker.dll</c>) as a process: stdout streamed to a file (byte-exact, any size), stderr captured,
/// stdin closed, bounded by a timeout after which the process is killed.
/// </summary>
/// <param name="workDirectory">Current directory of the runs and where their stdout files go.</param>
public sealed class CliRunner(string workDirectory)
{
    /// <summary>Default bound on one run.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private int _runs;

    /// <summary>Runs <c>obroker &lt;args&gt; --gateway &lt;gateway&gt;</c>.</summary>
    /// <param name="gateway"><c>host:port</c> appended as <c>--gateway</c>; <c>null</c> appends nothing.</param>
    /// <param name="args">The verb and its arguments.</param>
    /// <returns>The finished run.</returns>
    /// <exception cref="TimeoutException">The run took longer than <see cref="DefaultTimeout"/>; it was killed.</exception>
    public Task<CliResult> RunAsync(string? gateway, params string[] args) => RunAsync(gateway, DefaultTimeout, args);

    /// <summary>Runs <c>obroker &lt;args&gt; --gateway &lt;gateway&gt;</c>.</summary>
    /// <param name="gateway"><c>host:port</c> appended as <c>--gateway</c>; <c>null</c> appends nothing.</param>
    /// <param name="timeout">Bound on the run.</param>
    /// <param name="args">The verb and its arguments.</param>
    /// <returns>The finished run.</returns>
    /// <exception cref="TimeoutException">The run took longer than <paramref name="timeout"/>; it was killed.</exception>
    public async Task<CliResult> RunAsync(string? gateway, TimeSpan timeout, params string[] args)
    {
        List<string> arguments = [.. args];
        if (gateway is not null)
        {
            arguments.Add("--gateway");
            arguments.Add(gateway);
        }

        int run = Interlocked.Increment(ref _runs);
        string stdoutPath = Path.Combine(workDirectory, $"cli-{run:D3}-{args.FirstOrDefault() ?? "none"}.out");
        var start = new ProcessStartInfo(ToolPaths.DotnetHost)
        {
            WorkingDirectory = workDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(ToolPaths.Cli);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the CLI.");
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task stdout;
        await using (var file = new FileStream(stdoutPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
        {
            stdout = process.StandardOutput.BaseStream.CopyToAsync(file);
            try
            {
                await process.WaitForExitAsync().WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                await stdout;
                throw new TimeoutException($"obroker {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds:0} s; killed.\n--- stderr ---\n{await stderr}");
            }

            await stdout;
        }

        stopwatch.Stop();
        return new CliResult(arguments, process.ExitCode, stdoutPath, await stderr, stopwatch.Elapsed);
    }
}
