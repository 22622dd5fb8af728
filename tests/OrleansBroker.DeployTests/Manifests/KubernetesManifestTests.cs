using System.Reflection;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting.Kubernetes;
using OrleansBroker.DeployTests.Infrastructure;
using OrleansBroker.Server;
using OrleansBroker.SiloHost;

namespace OrleansBroker.DeployTests.Manifests;

/// <summary>
/// The Kubernetes manifests against what the silo host reads and serves: nothing here runs a cluster, so each manifest is loaded
/// strictly and compared with the host's option types, constants and the Kubernetes hosting package.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly KubernetesManifests M = KubernetesManifests.Instance;

    [Fact]
    public void LoadAllFromString_EveryManifestFile_IsListedInKustomizationAndLoadsStrictly()
    {
        string[] files = [.. Directory.GetFiles(RepoFiles.KubernetesDirectory, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml")!];
        Assert.Equal(files.Order(StringComparer.Ordinal), M.Resources.Order(StringComparer.Ordinal));
        Assert.All(M.ByFile, file => Assert.NotEmpty(file.Value));
        Assert.Equal(
            ["V1Deployment", "V1PodDisruptionBudget", "V1Role", "V1RoleBinding", "V1Service", "V1ServiceAccount"],
            M.All.Select(o => o.GetType().Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void LoadAllFromString_UnknownFieldInStrictMode_Throws()
    {
        // The strictness the other tests rely on: a misspelt field is an error, not silently dropped.
        string text = File.ReadAllText(Path.Combine(RepoFiles.KubernetesDirectory, "deployment.yaml"))
            .Replace("terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", StringComparison.Ordinal);
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(text, typeMap: null, strict: true));
        Assert.NotEmpty(KubernetesYaml.LoadAllFromString(text, typeMap: null, strict: false));
    }

    [Fact]
    public void Manifests_NoObject_SetsANamespace()
    {
        Assert.All(M.All.Cast<IKubernetesObject<V1ObjectMeta>>(), o => Assert.Null(o.Metadata.NamespaceProperty));
        Assert.All(M.RoleBinding.Subjects, s => Assert.Null(s.NamespaceProperty));
    }

    [Fact]
    public void DeploymentEnv_EveryName_IsReadByTheSiloHost()
    {
        string[] unknown = [.. M.Silo.Env.Select(e => e.Name).Where(n => !HostSettingNames.EnvironmentVariables.Contains(n))];
        Assert.True(unknown.Length == 0, $"Environment variables the silo host does not read: {string.Join(", ", unknown)}.");
        Assert.Equal(M.Silo.Env.Count, M.Silo.Env.Select(e => e.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void DeploymentEnv_KubernetesHostingVariables_ComeFromTheDownwardApi()
    {
        Dictionary<string, V1EnvVar> env = M.Silo.Env.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Assert.Equal(
            ["ORLEANS_CLUSTER_ID", "ORLEANS_SERVICE_ID", "POD_IP", "POD_NAME", "POD_NAMESPACE"],
            HostSettingNames.KubernetesHostingVariables.Order(StringComparer.Ordinal));

        Assert.Equal("metadata.name", env[KubernetesHostingOptions.PodNameEnvironmentVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal("metadata.namespace", env[KubernetesHostingOptions.PodNamespaceEnvironmentVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal("status.podIP", env[KubernetesHostingOptions.PodIPEnvironmentVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal($"metadata.labels['{KubernetesHostingOptions.ServiceIdLabel}']", env[KubernetesHostingOptions.ServiceIdEnvironmentVariable].ValueFrom.FieldRef.FieldPath);
        Assert.Equal($"metadata.labels['{KubernetesHostingOptions.ClusterIdLabel}']", env[KubernetesHostingOptions.ClusterIdEnvironmentVariable].ValueFrom.FieldRef.FieldPath);

        V1SecretKeySelector secret = env[$"ConnectionStrings__{SiloHostOptions.AzureStorageConnectionStringName}"].ValueFrom.SecretKeyRef;
        Assert.Equal("orleans-broker-azure-storage", secret.Name);
        Assert.Equal("connection-string", secret.Key);
    }

    [Fact]
    public void DeploymentEnv_AsHostConfiguration_IsValidAzureKubernetesSilo()
    {
        // The Deployment's environment, as the host would read it (the secret and downward-API values stand in for the cluster's).
        IDictionary<string, string> labels = M.Deployment.Spec.Template.Metadata.Labels;
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (V1EnvVar variable in M.Silo.Env)
        {
            values[variable.Name.Replace("__", ":", StringComparison.Ordinal)] = variable.Value ?? variable.ValueFrom switch
            {
                { SecretKeyRef: not null } => $"DefaultEndpointsProtocol=https;AccountName=example;AccountKey={Convert.ToBase64String(new byte[64])};EndpointSuffix=core.windows.net",
                { FieldRef.FieldPath: var path } when path.StartsWith("metadata.labels['", StringComparison.Ordinal) => labels[path["metadata.labels['".Length..^2]],
                { FieldRef.FieldPath: "status.podIP" } => "10.1.2.3",
                _ => "example",
            };
        }

        SiloHostSettings settings = SiloHostSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());

        Assert.True(settings.IsValid, string.Join(Environment.NewLine, settings.Failures));
        Assert.True(settings.Options.Kubernetes);
        Assert.Equal(BrokerStorageKind.AzureStorage, settings.Options.Storage);
        Assert.Equal(BrokerClusteringKind.AzureStorage, settings.Options.EffectiveClustering);
        Assert.Equal(64 * 1024 * 1024, settings.Broker.SegmentBytes);
        Assert.NotNull(settings.AzureStorageConnectionString);
    }

    [Fact]
    public void Labels_DeploymentSelectorTemplateServiceAndBudget_Match()
    {
        IDictionary<string, string> selector = M.Deployment.Spec.Selector.MatchLabels;
        IDictionary<string, string> template = M.Deployment.Spec.Template.Metadata.Labels;

        Assert.NotEmpty(selector);
        Assert.All(selector, label => Assert.Equal(label.Value, template[label.Key]));
        Assert.Equal(selector.OrderBy(l => l.Key), M.Service.Spec.Selector.OrderBy(l => l.Key));
        Assert.Equal(selector.OrderBy(l => l.Key), M.DisruptionBudget.Spec.Selector.MatchLabels.OrderBy(l => l.Key));
        Assert.Null(M.Deployment.Spec.Selector.MatchExpressions);
        Assert.Null(M.DisruptionBudget.Spec.Selector.MatchExpressions);

        // UseKubernetesHosting finds the cluster's pods by these labels; the silo takes its ids from them (ORLEANS_*_ID).
        Assert.Equal(SiloHostOptions.DefaultClusterId, template[KubernetesHostingOptions.ServiceIdLabel]);
        Assert.Equal(SiloHostOptions.DefaultClusterId, template[KubernetesHostingOptions.ClusterIdLabel]);
    }

    [Fact]
    public void ContainerPorts_SiloGatewayHealth_EqualTheSiloHostDefaults()
    {
        Dictionary<string, int> ports = M.Silo.Ports.ToDictionary(p => p.Name, p => p.ContainerPort, StringComparer.Ordinal);

        Assert.Equal(
            new Dictionary<string, int> { ["gateway"] = SiloHostOptions.DefaultGatewayPort, ["health"] = SiloHostOptions.DefaultHealthPort, ["silo"] = SiloHostOptions.DefaultSiloPort },
            ports);
        Assert.All(M.Silo.Ports, p => Assert.Equal("TCP", p.Protocol));

        // The defaults the host actually runs with come from its appsettings.json; they must be the constants too.
        using JsonDocument appsettings = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json")));
        JsonElement broker = appsettings.RootElement.GetProperty(BrokerOptions.SectionName);
        Assert.Equal(SiloHostOptions.DefaultSiloPort, broker.GetProperty(nameof(SiloHostOptions.SiloPort)).GetInt32());
        Assert.Equal(SiloHostOptions.DefaultGatewayPort, broker.GetProperty(nameof(SiloHostOptions.GatewayPort)).GetInt32());
        Assert.Equal(SiloHostOptions.DefaultHealthPort, broker.GetProperty(nameof(SiloHostOptions.HealthPort)).GetInt32());
    }

    [Fact]
    public void GatewayService_TargetsTheContainersGatewayPort()
    {
        V1ServicePort port = Assert.Single(M.Service.Spec.Ports);
        Assert.Equal(SiloHostOptions.DefaultGatewayPort, port.Port);
        Assert.Equal(SiloHostOptions.DefaultGatewayPort, M.ResolveContainerPort(port.TargetPort));
        Assert.Equal("ClusterIP", M.Service.Spec.Type);
    }

    [Fact]
    public void Probes_PathsAndPorts_EqualWhatTheHostServes()
    {
        V1Container silo = M.Silo;

        Assert.Equal(HealthEndpoints.ReadyPath, silo.ReadinessProbe.HttpGet.Path);
        Assert.Equal(HealthEndpoints.ReadyPath, silo.StartupProbe.HttpGet.Path);
        Assert.Equal(HealthEndpoints.LivePath, silo.LivenessProbe.HttpGet.Path);
        Assert.All(
            new[] { silo.ReadinessProbe, silo.StartupProbe, silo.LivenessProbe },
            probe => Assert.Equal(SiloHostOptions.DefaultHealthPort, M.ResolveContainerPort(probe.HttpGet.Port)));

        // A readiness probe must wait longer than the readiness check's own timeout, or it fails on a slow-but-healthy catalog call.
        Assert.True(silo.ReadinessProbe.TimeoutSeconds > HealthEndpoints.ReadyTimeout.TotalSeconds);
        Assert.True(silo.StartupProbe.TimeoutSeconds > HealthEndpoints.ReadyTimeout.TotalSeconds);
    }

    [Fact]
    public void TerminationGracePeriod_ExceedsTheHostShutdownTimeout()
    {
        long? grace = M.Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds;
        Assert.NotNull(grace);
        Assert.True(grace > SiloHostOptions.ShutdownTimeoutSeconds, $"terminationGracePeriodSeconds {grace} must exceed the host's {SiloHostOptions.ShutdownTimeoutSeconds} s shutdown timeout.");
    }

    [Fact]
    public void Rbac_Role_CoversEveryVerbTheKubernetesHostingPackageAsksFor()
    {
        // The package ships the Role it needs as a constant (logged when the API server answers 403); read it from the package itself.
        Type agent = typeof(KubernetesHostingOptions).Assembly.GetType("Orleans.Hosting.Kubernetes.KubernetesClusterAgent", throwOnError: true)!;
        FieldInfo? example = agent.GetField("ExampleRoleBinding", BindingFlags.NonPublic | BindingFlags.Static);
        Assert.True(example is not null, "Microsoft.Orleans.Hosting.Kubernetes no longer has KubernetesClusterAgent.ExampleRoleBinding; re-check the verbs it needs.");
        V1Role needed = KubernetesYaml.LoadAllFromString((string)example!.GetRawConstantValue()!).OfType<V1Role>().Single();

        V1Role role = M.Role;
        foreach (V1PolicyRule rule in needed.Rules)
        {
            foreach (string resource in rule.Resources)
            {
                foreach (string verb in rule.Verbs)
                {
                    Assert.True(
                        role.Rules.Any(r => r.ApiGroups.Intersect(rule.ApiGroups).Any() && r.Resources.Contains(resource) && r.Verbs.Contains(verb)),
                        $"The Role does not allow '{verb}' on '{resource}'.");
                }
            }
        }

        Assert.Equal(["get", "list", "patch", "watch"], needed.Rules.SelectMany(r => r.Verbs).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Rbac_BindingGrantsTheRoleToTheDeploymentsServiceAccount()
    {
        Assert.Equal("Role", M.RoleBinding.RoleRef.Kind);
        Assert.Equal(M.Role.Metadata.Name, M.RoleBinding.RoleRef.Name);
        Rbacv1Subject subject = Assert.Single(M.RoleBinding.Subjects);
        Assert.Equal("ServiceAccount", subject.Kind);
        Assert.Equal(M.ServiceAccount.Metadata.Name, subject.Name);
        Assert.Equal(M.ServiceAccount.Metadata.Name, M.Deployment.Spec.Template.Spec.ServiceAccountName);
    }

    [Fact]
    public void Kustomization_ImageNameAndReadme_MatchTheDeployment()
    {
        Assert.Contains(M.Silo.Image, M.KustomizeImageNames);

        string readme = File.ReadAllText(Path.Combine(RepoFiles.KubernetesDirectory, "README.md"));
        V1SecretKeySelector secret = M.Silo.Env.Single(e => e.ValueFrom?.SecretKeyRef is not null).ValueFrom.SecretKeyRef;
        Assert.Contains(secret.Name, readme, StringComparison.Ordinal);
        Assert.Contains(secret.Key, readme, StringComparison.Ordinal);
        Assert.Contains(M.Service.Metadata.Name, readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Deployment_Replicas_AtLeastTwoAndBudgetKeepsOneUp()
    {
        Assert.True(M.Deployment.Spec.Replicas >= 2);
        Assert.Equal("1", M.DisruptionBudget.Spec.MaxUnavailable.Value);
        Assert.Equal("0", M.Deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
    }
}
