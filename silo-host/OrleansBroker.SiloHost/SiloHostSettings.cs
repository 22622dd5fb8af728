using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OrleansBroker.Server;
using OrleansBroker.Server.AzureStorage;
using Quickenshtein;

namespace OrleansBroker.SiloHost;

/// <summary>
/// Everything the silo host reads from configuration, checked before anything starts: <see cref="SiloHostOptions"/> and
/// <see cref="BrokerOptions"/> from the <c>Broker</c> section, and the connection string <c>ConnectionStrings:AzureStorage</c>.
/// </summary>
public sealed class SiloHostSettings
{
    private SiloHostSettings(SiloHostOptions options, BrokerOptions broker, string? connectionString, IReadOnlyList<string> failures)
    {
        Options = options;
        Broker = broker;
        AzureStorageConnectionString = connectionString;
        Failures = failures;
    }

    /// <summary>Ports, cluster, storage, clustering and hosting settings (defaults where a value could not be read).</summary>
    public SiloHostOptions Options { get; }

    /// <summary>The broker's own settings (defaults where a value could not be read).</summary>
    public BrokerOptions Broker { get; }

    /// <summary>The value of <c>ConnectionStrings:AzureStorage</c>, or <c>null</c>.</summary>
    public string? AzureStorageConnectionString { get; }

    /// <summary>Every problem found, each saying what to set; empty when the host can start.</summary>
    public IReadOnlyList<string> Failures { get; }

    /// <summary>
    /// The <see cref="BrokerOptions"/> that differ from their defaults, as <c>Name=value</c> in name order (the data directory, which the
    /// start-up banner shows on its own line, excluded): what the banner prints so an operator sees what this broker runs with.
    /// </summary>
    public IReadOnlyList<string> ChangedBrokerSettings
    {
        get
        {
            var defaults = new BrokerOptions();
            return [.. typeof(BrokerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.GetSetMethod() is not null && p.Name != nameof(BrokerOptions.DataDirectory)
                    && (p.PropertyType.IsValueType || p.PropertyType == typeof(string)) && !Equals(p.GetValue(Broker), p.GetValue(defaults)))
                .OrderBy(p => p.Name, StringComparer.Ordinal)
                .Select(p => $"{p.Name}={Format(p.GetValue(Broker))}")];

            static string Format(object? value) => value switch
            {
                null => "(unset)",
                bool b => b ? "true" : "false",
                TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString() ?? string.Empty,
            };
        }
    }

    /// <summary>True when <see cref="Failures"/> is empty.</summary>
    public bool IsValid => Failures.Count == 0;

    /// <summary>Reads and checks the settings, collecting every problem rather than stopping at the first.</summary>
    /// <param name="configuration">The host's configuration (appsettings.json, environment, command line).</param>
    /// <returns>The settings and their problems.</returns>
    public static SiloHostSettings Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var failures = new List<string>();
        IConfigurationSection section = configuration.GetSection(BrokerOptions.SectionName);

        // Enumerations first, with the allowed names in the message; a wrong one is left at its default and the rest is still checked.
        var skip = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        CheckEnum<BrokerStorageKind>(section, nameof(SiloHostOptions.Storage), failures, skip);
        CheckEnum<BrokerClusteringKind>(section, nameof(SiloHostOptions.Clustering), failures, skip);

        var options = new SiloHostOptions();
        BindLeniently(section, options, failures, skip);
        var broker = new BrokerOptions();
        BindLeniently(section, broker, failures, skip);
        CheckUnknownKeys(section, [options, broker], failures);
        CheckMisspeltSection(configuration, failures);
        string? connectionString = configuration.GetConnectionString(SiloHostOptions.AzureStorageConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            connectionString = null;
        }

        failures.AddRange(options.Validate(connectionString));
        AddFailures(new BrokerOptionsValidator().Validate(null, broker), failures);
        if (options.Storage == BrokerStorageKind.AzureStorage)
        {
            AddFailures(new AzureStorageBrokerLimitsValidator().Validate(null, broker), failures);
        }

        return new SiloHostSettings(options, broker, connectionString, failures);
    }

    /// <summary>
    /// Binds each property on its own, so one unreadable value (<c>--Broker:SiloPort abc</c>) is reported and left at its default while
    /// every other value is still read and checked. Nested option classes of this product are bound the same way, property by property.
    /// </summary>
    private static void BindLeniently(IConfigurationSection section, object target, List<string> failures, HashSet<string> skip)
    {
        foreach (PropertyInfo property in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            IConfigurationSection child = section.GetSection(property.Name);
            if (property.GetSetMethod() is null || !child.Exists() || skip.Contains(child.Path))
            {
                continue;
            }

            Type type = property.PropertyType;
            if (type.IsClass && type != typeof(string))
            {
                // Only this product's nested options (Broker:AzureStorage); Azure SDK clients are never bound from configuration.
                if (type.Namespace?.StartsWith("OrleansBroker", StringComparison.Ordinal) == true && property.GetValue(target) is { } nested)
                {
                    BindLeniently(child, nested, failures, skip);
                }

                continue;
            }

            try
            {
                property.SetValue(target, child.Get(type));
            }
            catch (InvalidOperationException ex)
            {
                // The binder's message names the key and the value ("Failed to convert configuration value 'x' at 'Broker:SiloPort' to type ...").
                failures.Add($"{ex.Message} Fix or remove that setting.");
            }
        }
    }

    /// <summary>
    /// A key under <c>Broker:</c> that no option has (a misspelling, or a setting of another product) would be ignored in silence and the
    /// broker would run on the default: reported instead, with the nearest known name. Nested option sections of this product
    /// (<c>Broker:AzureStorage:*</c>) are checked the same way.
    /// </summary>
    private static void CheckUnknownKeys(IConfigurationSection section, IReadOnlyList<object> targets, List<string> failures)
    {
        const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            var matches = targets
                .Select(t => (Target: t, Property: t.GetType().GetProperty(child.Key, Public | BindingFlags.IgnoreCase)))
                .Where(m => m.Property is { } p && IsSetting(p))
                .ToList();
            if (matches.Count == 0 && child.Key.Equals(nameof(AzureStorageBrokerOptions.ConnectionString), StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{child.Path} is not read: set the connection string as ConnectionStrings:{SiloHostOptions.AzureStorageConnectionStringName} (environment: ConnectionStrings__{SiloHostOptions.AzureStorageConnectionStringName}).");
                continue;
            }

            if (matches.Count == 0)
            {
                string[] known = [.. targets.SelectMany(t => t.GetType().GetProperties(Public)).Where(IsSetting).Select(p => p.Name).Distinct().Order(StringComparer.Ordinal)];
                string nearest = known.MinBy(k => Distance(k, child.Key)) ?? string.Empty;
                bool close = nearest.Length > 0 && Distance(nearest, child.Key) <= Math.Max(2, child.Key.Length / 3);
                failures.Add(close
                    ? $"{child.Path} is not a setting; did you mean {section.Path}:{nearest}?"
                    : $"{child.Path} is not a setting. The {section.Path} settings are: {string.Join(", ", known)}.");
                continue;
            }

            object[] nested = [.. matches
                .Where(m => m.Property!.PropertyType is { IsClass: true } type && type != typeof(string) && type.Namespace?.StartsWith("OrleansBroker", StringComparison.Ordinal) == true)
                .Select(m => m.Property!.GetValue(m.Target))
                .OfType<object>()];
            if (nested.Length > 0)
            {
                CheckUnknownKeys(child, nested, failures);
            }
        }
    }

    /// <summary>
    /// A property read from configuration. The Azure Storage connection string and client have setters but the host reads
    /// <c>ConnectionStrings:AzureStorage</c> instead (<see cref="SiloHostOptions.CopyAzureStorage"/>): set under <c>Broker:AzureStorage</c>
    /// they would be ignored in silence.
    /// </summary>
    private static bool IsSetting(PropertyInfo property) =>
        property.GetSetMethod() is not null
        && !(property.DeclaringType == typeof(AzureStorageBrokerOptions)
            && property.Name is nameof(AzureStorageBrokerOptions.ConnectionString) or nameof(AzureStorageBrokerOptions.BlobServiceClient));

    /// <summary>
    /// A section whose name is close to <c>Broker</c> (<c>Brokr:GatewayPort</c>, <c>Broker_</c>...) holds settings meant for the broker
    /// that nothing reads. Only sections with keys under them count: a plain value (an environment variable such as <c>BROWSER</c>) is no
    /// setting of ours.
    /// </summary>
    private static void CheckMisspeltSection(IConfiguration configuration, List<string> failures)
    {
        foreach (IConfigurationSection top in configuration.GetChildren())
        {
            if (!top.Key.Equals(BrokerOptions.SectionName, StringComparison.OrdinalIgnoreCase)
                && Distance(top.Key, BrokerOptions.SectionName) <= 2
                && top.GetChildren().FirstOrDefault() is { } first)
            {
                failures.Add($"{first.Path} is not read: did you mean {BrokerOptions.SectionName}:{first.Key}? (the section is '{BrokerOptions.SectionName}').");
            }
        }
    }

    /// <summary>Edit distance ignoring case, as configuration keys are read.</summary>
    private static int Distance(string a, string b) => Levenshtein.GetDistance(a.ToUpperInvariant(), b.ToUpperInvariant());

    private static void CheckEnum<TEnum>(IConfigurationSection section, string key, List<string> failures, HashSet<string> skip)
        where TEnum : struct, Enum
    {
        IConfigurationSection child = section.GetSection(key);
        string? value = child.Value;
        if (string.IsNullOrEmpty(value) || (Enum.TryParse(value, ignoreCase: true, out TEnum parsed) && Enum.IsDefined(parsed) && !char.IsAsciiDigit(value[0])))
        {
            return;
        }

        failures.Add($"{child.Path} is '{value}'; set it to one of: {string.Join(", ", Enum.GetNames<TEnum>())}.");
        _ = skip.Add(child.Path);
    }

    private static void AddFailures(ValidateOptionsResult result, List<string> failures)
    {
        if (result.Failed)
        {
            failures.AddRange(result.Failures);
        }
    }
}
