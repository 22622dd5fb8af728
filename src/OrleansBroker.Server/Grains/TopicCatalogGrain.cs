using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Protocol;
using OrleansBroker.Server.Internal;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// The topic catalog (key 0): creates, describes and lists topics, stored durably in grain storage
/// <see cref="BrokerGrainStorage.ProviderName"/>. A topic is written to storage before its creation is acknowledged.
/// </summary>
internal sealed partial class TopicCatalogGrain : Grain, ITopicCatalogGrain
{
    /// <summary>The catalog's grain key.</summary>
    public const long Key = 0;

    /// <summary>Name of the catalog's state in grain storage.</summary>
    public const string StateName = "topic-catalog";

    private readonly IPersistentState<TopicCatalogState> _state;
    private readonly BrokerOptions _options;
    private readonly ILogger<TopicCatalogGrain> _logger;
    private bool _faulted;

    public TopicCatalogGrain(
        [PersistentState(StateName, BrokerGrainStorage.ProviderName)] IPersistentState<TopicCatalogState> state,
        IOptions<BrokerOptions> options,
        ILogger<TopicCatalogGrain> logger)
    {
        _state = state;
        _options = options.Value;
        _logger = logger;
    }

    /// <inheritdoc />
    public async Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings)
    {
        if (!TopicName.IsValid(name, out string? reason))
        {
            return new TopicResult(ErrorCode.InvalidTopic, reason, null);
        }

        if (partitionCount < 1 || partitionCount > _options.MaxPartitionsPerTopic)
        {
            return new TopicResult(
                ErrorCode.InvalidPartitions,
                $"Partition count is {partitionCount}; it must be between 1 and {_options.MaxPartitionsPerTopic} (Broker:MaxPartitionsPerTopic).",
                null);
        }

        settings ??= _options.CreateDefaultTopicSettings();
        List<string> failures = TopicSettingsRules.Validate(settings.MaxMessageBytes, settings.SegmentBytes, settings.FlushMessages, settings.FlushMs, prefix: string.Empty);
        if (failures.Count > 0)
        {
            return new TopicResult(ErrorCode.InvalidConfig, string.Join(" ", failures), null);
        }

        if (_faulted)
        {
            return StorageFailed();
        }

        if (_state.State.Topics.TryGetValue(name, out TopicDescription? existing))
        {
            return new TopicResult(ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists with {existing.PartitionCount} partition{(existing.PartitionCount == 1 ? "" : "s")}.", existing);
        }

        var topic = new TopicDescription(name, partitionCount, settings);
        _state.State.Topics[name] = topic;
        try
        {
            await _state.WriteStateAsync();
        }
#pragma warning disable CA1031 // A storage provider may throw anything; whether the write landed is unknown, so reload on the next activation.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _ = _state.State.Topics.Remove(name);
            _faulted = true;
            LogWriteFailed(_logger, name, ex);
            DeactivateOnIdle();
            return StorageFailed();
        }

        LogCreated(_logger, name, partitionCount, settings.MaxMessageBytes, settings.SegmentBytes);
        return new TopicResult(ErrorCode.None, null, topic);
    }

    /// <inheritdoc />
    public Task<TopicResult> DescribeTopicAsync(string name)
    {
        if (!TopicName.IsValid(name, out string? reason))
        {
            return Task.FromResult(new TopicResult(ErrorCode.InvalidTopic, reason, null));
        }

        return Task.FromResult(_state.State.Topics.TryGetValue(name, out TopicDescription? topic)
            ? new TopicResult(ErrorCode.None, null, topic)
            : new TopicResult(
                ErrorCode.UnknownTopicOrPartition,
                $"Topic '{name}' does not exist: create it first (Admin.CreateTopicAsync, or 'obroker topics create {name} --partitions N'), or run the broker with Broker:AutoCreateTopics=true.",
                null));
    }

    /// <inheritdoc />
    public async Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation)
    {
        TopicResult described = await DescribeTopicAsync(name);
        if (described.Error != ErrorCode.UnknownTopicOrPartition || !allowAutoTopicCreation || !_options.AutoCreateTopics)
        {
            return described;
        }

        // Calls to this grain do not interleave: nobody can create the topic between the describe and the create. Every auto-creation
        // comes here: a client's metadata request and a partition's activation alike.
        TopicResult created = await CreateTopicAsync(name, _options.DefaultPartitions, settings: null);
        if (created.Error == ErrorCode.None)
        {
            LogAutoCreated(_logger, name, _options.DefaultPartitions);
        }
        else
        {
            LogAutoCreateFailed(_logger, name, created.Error, created.Message);
        }

        return created;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync()
    {
        IReadOnlyList<TopicDescription> topics = [.. _state.State.Topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)];
        return Task.FromResult(topics);
    }

    private static TopicResult StorageFailed() =>
        new(ErrorCode.KafkaStorageError, "The topic catalog could not write its state; retry (the catalog reloads from storage).", null);

    [LoggerMessage(1, LogLevel.Information, "Created topic {Topic} with {PartitionCount} partitions (max.message.bytes {MaxMessageBytes}, segment.bytes {SegmentBytes})")]
    private static partial void LogCreated(ILogger logger, string topic, int partitionCount, int maxMessageBytes, int segmentBytes);

    [LoggerMessage(2, LogLevel.Error, "Topic catalog could not write its state while creating {Topic}; deactivating to reload")]
    private static partial void LogWriteFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "Auto-created topic {Topic} with {PartitionCount} partitions (Broker:AutoCreateTopics)")]
    private static partial void LogAutoCreated(ILogger logger, string topic, int partitionCount);

    [LoggerMessage(4, LogLevel.Warning, "Could not auto-create topic {Topic}: {Error} {Reason}")]
    private static partial void LogAutoCreateFailed(ILogger logger, string topic, ErrorCode error, string? reason);
}
