using k8s;
using k8s.Models;
using OrleansBroker.DeployTests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace OrleansBroker.DeployTests.Manifests;

/// <summary>
/// The objects of <c>deploy/kubernetes</c>: every file named in <c>kustomization.yaml</c>'s <c>resources</c>, each loaded with
/// <c>KubernetesYaml.LoadAllFromString(text, strict: true)</c>, which fails on unknown fields and wrong types.
/// </summary>
public sealed class KubernetesManifests
{
    private KubernetesManifests(IReadOnlyList<string> resources, IReadOnlyDictionary<string, IReadOnlyList<object>> byFile, IReadOnlyList<string> imageNames)
    {
        Resources = resources;
        ByFile = byFile;
        KustomizeImageNames = imageNames;
    }

    /// <summary>The manifests, loaded once.</summary>
    public static KubernetesManifests Instance { get; } = Load();

    /// <summary>File names listed in <c>kustomization.yaml</c>.</summary>
    public IReadOnlyList<string> Resources { get; }

    /// <summary>The objects of each file.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<object>> ByFile { get; }

    /// <summary>The <c>images[].name</c> entries of <c>kustomization.yaml</c>.</summary>
    public IReadOnlyList<string> KustomizeImageNames { get; }

    /// <summary>Every object.</summary>
    public IEnumerable<object> All => ByFile.Values.SelectMany(o => o);

    /// <summary>The one Deployment.</summary>
    public V1Deployment Deployment => One<V1Deployment>();

    /// <summary>The silo container of the Deployment.</summary>
    public V1Container Silo => Assert.Single(Deployment.Spec.Template.Spec.Containers);

    /// <summary>The one Service.</summary>
    public V1Service Service => One<V1Service>();

    /// <summary>The one PodDisruptionBudget.</summary>
    public V1PodDisruptionBudget DisruptionBudget => One<V1PodDisruptionBudget>();

    /// <summary>The one Role.</summary>
    public V1Role Role => One<V1Role>();

    /// <summary>The one RoleBinding.</summary>
    public V1RoleBinding RoleBinding => One<V1RoleBinding>();

    /// <summary>The one ServiceAccount.</summary>
    public V1ServiceAccount ServiceAccount => One<V1ServiceAccount>();

    /// <summary>The one object of type <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The object type.</typeparam>
    /// <returns>The object.</returns>
    public T One<T>() => Assert.Single(All.OfType<T>());

    /// <summary>The container port a probe or Service names (by number or by port name).</summary>
    /// <param name="port">The port reference.</param>
    /// <returns>The container port number.</returns>
    public int ResolveContainerPort(IntOrString port)
    {
        ArgumentNullException.ThrowIfNull(port);
        string value = port.Value;
        if (int.TryParse(value, out int number))
        {
            return number;
        }

        V1ContainerPort? named = Silo.Ports.SingleOrDefault(p => p.Name == value);
        Assert.True(named is not null, $"No container port is named '{value}'.");
        return named!.ContainerPort;
    }

    private static KubernetesManifests Load()
    {
        string directory = RepoFiles.KubernetesDirectory;
        var kustomization = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(Path.Combine(directory, "kustomization.yaml"))))
        {
            kustomization.Load(reader);
        }

        var root = (YamlMappingNode)kustomization.Documents[0].RootNode;
        string[] resources = [.. ((YamlSequenceNode)root.Children[new YamlScalarNode("resources")]).Children.Select(n => ((YamlScalarNode)n).Value!)];
        string[] images = root.Children.TryGetValue(new YamlScalarNode("images"), out YamlNode? imageNode)
            ? [.. ((YamlSequenceNode)imageNode).Children.Select(n => ((YamlScalarNode)((YamlMappingNode)n).Children[new YamlScalarNode("name")]).Value!)]
            : [];

        var byFile = new Dictionary<string, IReadOnlyList<object>>(StringComparer.Ordinal);
        foreach (string resource in resources)
        {
            string text = File.ReadAllText(Path.Combine(directory, resource));
            List<object> objects = KubernetesYaml.LoadAllFromString(text, typeMap: null, strict: true);
            byFile[resource] = objects;
        }

        return new KubernetesManifests(resources, byFile, images);
    }
}
