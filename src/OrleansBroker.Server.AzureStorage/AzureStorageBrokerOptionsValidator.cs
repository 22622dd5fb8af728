using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.Server.AzureStorage;

/// <summary>Validates <see cref="AzureStorageBrokerOptions"/>, reporting every failure at once and saying what to set.</summary>
public sealed class AzureStorageBrokerOptionsValidator : IValidateOptions<AzureStorageBrokerOptions>
{
    /// <summary>The name the silo host reads the connection string from: <c>ConnectionStrings:AzureStorage</c>.</summary>
    public const string ConnectionStringSetting = "ConnectionStrings:AzureStorage";

    private const string P = "Broker:AzureStorage:";

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AzureStorageBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.BlobServiceClient is null)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                failures.Add($"No Azure Storage connection string is set; set {ConnectionStringSetting} (environment ConnectionStrings__AzureStorage), "
                    + "or AzureStorageBrokerOptions.ConnectionString / BlobServiceClient in code.");
            }
            else if (DescribeConnectionStringProblem(options.ConnectionString) is { } problem)
            {
                failures.Add($"The Azure Storage connection string ({ConnectionStringSetting}) is not valid: {problem}");
            }
        }

        AddContainerNameFailures(failures, nameof(options.LogContainerName), options.LogContainerName, AzureStorageBrokerOptions.DefaultLogContainerName);
        AddContainerNameFailures(failures, nameof(options.GrainStateContainerName), options.GrainStateContainerName, AzureStorageBrokerOptions.DefaultGrainStateContainerName);
        if (string.Equals(options.LogContainerName, options.GrainStateContainerName, StringComparison.Ordinal))
        {
            failures.Add($"{P}LogContainerName and {P}GrainStateContainerName are both '{options.LogContainerName}'; set them to different containers.");
        }

        if (options.LeaseDuration < AzureBlobLogStoreOptions.MinLeaseDuration || options.LeaseDuration > AzureBlobLogStoreOptions.MaxLeaseDuration)
        {
            failures.Add($"{P}LeaseDuration is {options.LeaseDuration}; set it between 00:00:15 and 00:01:00 (Azure's finite blob lease range; default 00:00:15).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Checks a connection string offline (no request is sent).</summary>
    /// <param name="connectionString">The connection string.</param>
    /// <returns><c>null</c> when the Azure SDK accepts it; otherwise why not (never echoing the string, which holds a secret).</returns>
    public static string? DescribeConnectionStringProblem(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
            return null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException or UriFormatException)
        {
            return $"{ex.GetType().Name}: the Azure SDK cannot parse it; expected e.g. "
                + "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net'.";
        }
    }

    /// <summary>True when <paramref name="name"/> follows Azure's container naming rule: 3-63 characters of lower-case letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    /// <param name="name">The container name.</param>
    /// <returns>True when legal.</returns>
    public static bool IsValidContainerName(string? name)
    {
        if (name is null || name.Length is < 3 or > 63 || name[0] == '-' || name[^1] == '-')
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') || (c == '-' && name[i - 1] != '-');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static void AddContainerNameFailures(List<string> failures, string property, string? value, string defaultValue)
    {
        if (!IsValidContainerName(value))
        {
            failures.Add($"{P}{property} '{value}' is not a legal container name; use 3-63 lower-case letters, digits and single hyphens, "
                + $"starting and ending with a letter or digit (default '{defaultValue}').");
        }
    }
}
