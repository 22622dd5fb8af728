using OrleansBroker.AzureStorage.Tests.Infrastructure;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>Files of the repository the tests check (manifests, Dockerfile, READMEs).</summary>
public static class RepoFiles
{
    /// <summary>The repository root.</summary>
    public static string Root { get; } = Azurite.FindRepoRoot();

    /// <summary><c>deploy/kubernetes</c>.</summary>
    public static string KubernetesDirectory => Path.Combine(Root, "deploy", "kubernetes");

    /// <summary>The silo host's Dockerfile.</summary>
    public static string Dockerfile => Path.Combine(Root, "silo-host", "OrleansBroker.SiloHost", "Dockerfile");

    /// <summary>Reads a file under the repository root.</summary>
    /// <param name="relativePath">Path relative to the root, with '/' separators.</param>
    /// <returns>The text.</returns>
    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath.Replace('/', Path.DirectorySeparatorChar)));
}
