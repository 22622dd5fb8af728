using System.Reflection;
using Orleans.Hosting.Kubernetes;
using OrleansBroker.Server;
using OrleansBroker.SiloHost;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>
/// Every environment variable the silo host reads, derived from its types rather than written down: each settable property of
/// <see cref="SiloHostOptions"/> and <see cref="BrokerOptions"/> as <c>Broker__Name</c> (nested option classes as
/// <c>Broker__Name__Inner</c>), the connection string <c>ConnectionStrings__AzureStorage</c>, and the <c>*EnvironmentVariable</c>
/// constants of Orleans' <see cref="KubernetesHostingOptions"/> (POD_NAME, POD_NAMESPACE, POD_IP, ORLEANS_SERVICE_ID, ORLEANS_CLUSTER_ID).
/// </summary>
public static class HostSettingNames
{
    /// <summary>The environment variables Orleans' Kubernetes hosting reads, from its constants.</summary>
    public static IReadOnlyList<string> KubernetesHostingVariables { get; } =
    [
        .. typeof(KubernetesHostingOptions)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name.EndsWith("EnvironmentVariable", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!),
    ];

    /// <summary>The names, as environment variables (<c>__</c> for <c>:</c>), compared case-insensitively as .NET configuration does.</summary>
    public static IReadOnlySet<string> EnvironmentVariables { get; } = Build();

    private static HashSet<string> Build()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        AddProperties(typeof(SiloHostOptions), BrokerOptions.SectionName, names);
        AddProperties(typeof(BrokerOptions), BrokerOptions.SectionName, names);
        _ = names.Add($"ConnectionStrings__{SiloHostOptions.AzureStorageConnectionStringName}");
        names.UnionWith(KubernetesHostingVariables);
        return names;
    }

    private static void AddProperties(Type type, string prefix, HashSet<string> names)
    {
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetSetMethod() is not null))
        {
            string name = $"{prefix}__{property.Name}";
            Type propertyType = property.PropertyType;
            if (propertyType.IsClass && propertyType != typeof(string))
            {
                // Only this product's nested options are bound from configuration (as SiloHostSettings does).
                if (propertyType.Namespace?.StartsWith("OrleansBroker", StringComparison.Ordinal) == true)
                {
                    AddProperties(propertyType, name, names);
                }

                continue;
            }

            _ = names.Add(name);
        }
    }
}
