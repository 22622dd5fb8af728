using System.Reflection;

namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>
/// Where the built silo host and CLI are, as recorded at build time by the <c>RecordEndToEndToolPaths</c> target of the test project
/// (the referenced projects' TargetPath, so both a plain build and an <c>--artifacts-path</c> build work), and which <c>dotnet</c> runs them.
/// </summary>
public static class ToolPaths
{
    /// <summary>Full path of <c>OrleansBroker.SiloHost.dll</c>.</summary>
    public static string SiloHost { get; } = Recorded("SiloHostPath");

    /// <summary>Full path of <c>obroker.dll</c>.</summary>
    public static string Cli { get; } = Recorded("CliPath");

    /// <summary>
    /// The <c>dotnet</c> host: <c>DOTNET_HOST_PATH</c> (set by the SDK), else this process when it is <c>dotnet</c>, else <c>dotnet</c> from PATH.
    /// </summary>
    public static string DotnetHost { get; } = FindDotnetHost();

    private static string Recorded(string key)
    {
        string? path = typeof(ToolPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
        if (string.IsNullOrEmpty(path))
        {
            throw new InvalidOperationException($"The test assembly has no [AssemblyMetadata(\"{key}\")]; the RecordEndToEndToolPaths target did not run.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{key} recorded at build time does not exist (was the project built in another layout since?): {path}", path);
        }

        return path;
    }

    private static string FindDotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }

        return "dotnet";
    }
}
