using Microsoft.Extensions.Options;
using OrleansBroker.Server.Internal;

namespace OrleansBroker.Server;

/// <summary>Validates <see cref="BrokerOptions"/>, reporting every failure at once and saying what to set.</summary>
public sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string P = BrokerOptions.SectionName + ":";
        var failures = new List<string>();

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add($"{P}DataDirectory is empty; set it to the directory where partition logs and grain state are stored (default '{BrokerOptions.DefaultDataDirectory}').");
        }
        else
        {
            try
            {
                _ = Path.GetFullPath(options.DataDirectory);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
            {
                failures.Add($"{P}DataDirectory '{options.DataDirectory}' is not a valid path ({ex.Message}); set it to a directory path.");
            }
        }

        if (options.MaxPartitionsPerTopic < 1)
        {
            failures.Add($"{P}MaxPartitionsPerTopic is {options.MaxPartitionsPerTopic}; set it to at least 1 (default {BrokerOptions.DefaultMaxPartitionsPerTopic}).");
        }

        if (options.DefaultPartitions < 1 || options.DefaultPartitions > Math.Max(1, options.MaxPartitionsPerTopic))
        {
            failures.Add($"{P}DefaultPartitions is {options.DefaultPartitions}; set it between 1 and MaxPartitionsPerTopic ({options.MaxPartitionsPerTopic}).");
        }

        failures.AddRange(TopicSettingsRules.Validate(options.MaxMessageBytes, options.SegmentBytes, options.FlushMessages, options.FlushMs, P));

        if (options.ProducerIdExpiration <= TimeSpan.Zero)
        {
            failures.Add($"{P}ProducerIdExpiration is {options.ProducerIdExpiration}; set it to a positive duration (default {BrokerOptions.DefaultProducerIdExpiration}, Kafka's producer.id.expiration.ms).");
        }

        if (options.ProducerExpirationCheckInterval <= TimeSpan.Zero)
        {
            failures.Add($"{P}ProducerExpirationCheckInterval is {options.ProducerExpirationCheckInterval}; set it to a positive duration (default {BrokerOptions.DefaultProducerExpirationCheckInterval}).");
        }

        if (options.ProduceReorderWait < TimeSpan.Zero || options.ProduceReorderWait > BrokerOptions.MaxProduceReorderWait)
        {
            failures.Add($"{P}ProduceReorderWait is {options.ProduceReorderWait}; set it between zero and {BrokerOptions.MaxProduceReorderWait} (default {BrokerOptions.DefaultProduceReorderWait}).");
        }

        if (options.ProducerIdBlockSize < 1)
        {
            failures.Add($"{P}ProducerIdBlockSize is {options.ProducerIdBlockSize}; set it to at least 1 (default {BrokerOptions.DefaultProducerIdBlockSize}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
