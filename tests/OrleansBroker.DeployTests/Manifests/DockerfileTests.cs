using System.Text.RegularExpressions;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.SiloHost;

namespace OrleansBroker.DeployTests.Manifests;

/// <summary>
/// The silo host's Dockerfile, read as text (no Docker engine here): stages, user, exposed ports, entry point and environment against
/// the host's constants and settings, and the COPY sources against the repository.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string[] Lines = ReadInstructions(File.ReadAllText(RepoFiles.Dockerfile));

    [Fact]
    public void Stages_BuildOnSdkAndRunOnAspNetRuntime()
    {
        string[] from = [.. Lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal))];
        Assert.Equal(2, from.Length);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", from[0], StringComparison.Ordinal);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", from[1], StringComparison.Ordinal);
    }

    [Fact]
    public void RuntimeStage_RunsAsTheImagesNonRootUser()
    {
        string[] runtime = RuntimeStage();
        string user = Assert.Single(runtime, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.Equal("USER $APP_UID", user);
        Assert.True(Array.IndexOf(runtime, user) < Array.FindIndex(runtime, l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Expose_EqualsTheSiloHostDefaultPorts()
    {
        string expose = Assert.Single(RuntimeStage(), l => l.StartsWith("EXPOSE ", StringComparison.Ordinal));
        int[] ports = [.. expose["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order()];
        Assert.Equal(new[] { SiloHostOptions.DefaultHealthPort, SiloHostOptions.DefaultSiloPort, SiloHostOptions.DefaultGatewayPort }.Order(), ports);
    }

    [Fact]
    public void EntryPoint_RunsTheSiloHostAssembly()
    {
        string entry = Assert.Single(Lines, l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        Assert.Equal("ENTRYPOINT [\"dotnet\", \"OrleansBroker.SiloHost.dll\"]", entry);
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "OrleansBroker.SiloHost.dll")));
    }

    [Fact]
    public void Env_EveryBrokerName_IsReadByTheSiloHost()
    {
        string[] names = [.. RuntimeStage()
            .Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(l => EnvName().Matches(l).Select(m => m.Groups[1].Value))];

        Assert.Contains("Broker__DataDirectory", names);
        Assert.All(names.Where(n => !n.StartsWith("ASPNETCORE_", StringComparison.Ordinal)), n => Assert.Contains(n, HostSettingNames.EnvironmentVariables));
    }

    [Fact]
    public void Copy_EverySourceFromTheContext_ExistsInTheRepository()
    {
        string[] sources = [.. Lines
            .Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])];

        Assert.Contains("src/", sources);
        Assert.Contains("silo-host/", sources);
        Assert.All(sources, s => Assert.True(File.Exists(Path.Combine(RepoFiles.Root, s)) || Directory.Exists(Path.Combine(RepoFiles.Root, s)), $"COPY source '{s}' is not in the repository."));
    }

    private static string[] RuntimeStage() => Lines[Array.FindLastIndex(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal))..];

    /// <summary>Instructions with continuation lines joined and comments dropped.</summary>
    private static string[] ReadInstructions(string text)
    {
        var result = new List<string>();
        string pending = string.Empty;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1].Trim() + " ";
                continue;
            }

            result.Add(pending + line);
            pending = string.Empty;
        }

        return [.. result];
    }

    [GeneratedRegex(@"(?:^ENV |\s)([A-Za-z_][A-Za-z0-9_]*)=")]
    private static partial Regex EnvName();
}
