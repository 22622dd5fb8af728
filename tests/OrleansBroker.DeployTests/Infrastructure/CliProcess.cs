using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>One finished <c>obroker</c> run.</summary>
/// <param name="Arguments">The arguments after <c>obroker.dll</c>.</param>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Stdout">stdout bytes, unchanged.</param>
/// <param name="Stderr">stderr.</param>
public sealed record CliRun(IReadOnlyList<string> Arguments, int ExitCode, byte[] Stdout, string Stderr)
{
    /// <summary>The command, exit code, stderr and the start of stdout, for assertion messages.</summary>
    /// <returns>Several lines.</returns>
    public string Describe()
    {
        string stdout = Encoding.UTF8.GetString(Stdout);
        return $"obroker {string.Join(' ', Arguments)}\nexit code {ExitCode}\n--- stderr ---\n{Stderr}\n--- stdout ---\n{(stdout.Length > 1000 ? stdout[..1000] + "..." : stdout)}";
    }
}

/// <summary>
/// Runs the built CLI (<c>obroker.dll</c>) with <c>dotnet</c>: stdin closed, stdout and
/// stderr captured, killed after a timeout. The <c>OBROKER_*</c> variables of this process are not passed on; <c>environment</c> sets some.
/// </summary>
public static class CliProcess
{
    /// <summary>Bound on one run.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Full path of <c>obroker.dll</c> in the CLI's own output folder, as recorded at build time (<c>RecordDeployCliPath</c>).</summary>
    public static string CliAssemblyPath { get; } = RecordedCliPath();

    /// <summary>Runs <c>obroker &lt;arguments&gt;</c> in <paramref name="workingDirectory"/>.</summary>
    /// <param name="workingDirectory">Current directory of the run.</param>
    /// <param name="environment">Variables to set, or <c>null</c>.</param>
    /// <param name="arguments">The verb and its arguments.</param>
    /// <returns>The finished run.</returns>
    /// <exception cref="TimeoutException">Not finished within <see cref="DefaultTimeout"/>; killed.</exception>
    public static async Task<CliRun> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(CliAssemblyPath);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("OBROKER_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the CLI.");
        process.StandardInput.Close();
        using var stdout = new MemoryStream();
        Task copying = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(DefaultTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"obroker {string.Join(' ', arguments)} did not finish within {DefaultTimeout.TotalSeconds:0} s; killed.\n--- stderr ---\n{await stderr}");
        }

        await copying;
        return new CliRun(arguments, process.ExitCode, stdout.ToArray(), await stderr);
    }

    private static string RecordedCliPath()
    {
        string? path = typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "CliPath")?.Value;
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            throw new InvalidOperationException($"The CLI recorded at build time ([AssemblyMetadata(\"CliPath\")]) does not exist: '{path}'.");
        }

        return path;
    }

    /// <summary><c>DOTNET_HOST_PATH</c> (set by the SDK), else this process when it is <c>dotnet</c>, else <c>dotnet</c> from PATH.</summary>
    private static string DotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        string? self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? self : "dotnet";
    }
}
