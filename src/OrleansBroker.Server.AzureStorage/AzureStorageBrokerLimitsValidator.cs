using Microsoft.Extensions.Options;
using OrleansBroker.Storage.AzureBlob;

namespace OrleansBroker.Server.AzureStorage;

/// <summary>
/// Checks <see cref="BrokerOptions"/> against the Azure log store's limits: every record batch is one append block, so
/// <see cref="BrokerOptions.MaxMessageBytes"/> (Kafka's <c>message.max.bytes</c>) must be at most 4 MiB. Registered by
/// <c>AddOrleansBrokerAzureStorage</c> beside <see cref="BrokerOptionsValidator"/>.
/// </summary>
public sealed class AzureStorageBrokerLimitsValidator : IValidateOptions<BrokerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MaxMessageBytes > AzureBlobLogStoreOptions.MaxAppendBlockBytes
            ? ValidateOptionsResult.Fail(
                $"{BrokerOptions.SectionName}:MaxMessageBytes is {options.MaxMessageBytes}; with Azure Storage every record batch is one append block, "
                + $"so set it to at most {AzureBlobLogStoreOptions.MaxAppendBlockBytes} (4 MiB; Kafka's message.max.bytes default is 1048588).")
            : ValidateOptionsResult.Success;
    }
}
