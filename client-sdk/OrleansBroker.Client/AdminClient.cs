using OrleansBroker.Client.Internal;
using OrleansBroker.Protocol;

namespace OrleansBroker.Client;

/// <summary>Creates, lists and describes topics (Kafka's <c>Admin</c> client for topics).</summary>
public sealed class AdminClient
{
    /// <summary>Partitions of a new topic opened at the same time by <see cref="CreateTopicAsync"/>.</summary>
    private const int MaxConcurrentOpens = 32;

    private readonly IBrokerTransport _transport;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;

    internal AdminClient(IBrokerTransport transport, TimeSpan requestTimeout, TimeProvider? time = null)
    {
        _transport = transport;
        _requestTimeout = requestTimeout;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Creates a topic, then opens its partitions: returns once each partition answered a <c>ListOffsets</c> call (its log is open),
    /// as Kafka's brokers create a new topic's partition logs along with the topic. The first records sent to the topic then do not
    /// wait for their partition's log to be created (about 1-3 ms per partition on a local disk). A partition that cannot open yet is
    /// not waited for beyond the request timeout and does not fail the call: the topic exists, and that partition reports its state
    /// when it is used.
    /// </summary>
    /// <param name="name">Topic name: 1 to 249 characters of <c>[a-zA-Z0-9._-]</c>, not "." or "..".</param>
    /// <param name="partitionCount">Partitions, 1 to 10,000.</param>
    /// <param name="settings">Topic settings (<c>max.message.bytes</c>, <c>segment.bytes</c>, flush policy), or <c>null</c> for the broker's defaults.</param>
    /// <param name="cancellationToken">Stops waiting for the reply (and for the partitions to open).</param>
    /// <returns>The created topic.</returns>
    /// <exception cref="AdminException"><see cref="ErrorCode.InvalidTopic"/>, <see cref="ErrorCode.TopicAlreadyExists"/>, <see cref="ErrorCode.InvalidPartitions"/>,
    /// <see cref="ErrorCode.InvalidConfig"/>; <see cref="ErrorCode.RequestTimedOut"/> when the broker did not answer (the topic may or may not exist then).</exception>
    public async Task<TopicDescription> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings = null, CancellationToken cancellationToken = default)
    {
        if (!TopicName.IsValid(name, out string? reason))
        {
            throw new AdminException(ErrorCode.InvalidTopic, reason!, null, name);
        }

        if (partitionCount < 1)
        {
            throw new AdminException(ErrorCode.InvalidPartitions, $"Partition count must be at least 1 (was {partitionCount}).", null, name);
        }

        TopicResult result = await CallAsync(() => _transport.CreateTopicAsync(name, partitionCount, settings), idempotent: false, $"Creating topic '{name}'", name, cancellationToken).ConfigureAwait(false);
        TopicDescription created = Unwrap(result, name);
        await OpenPartitionsAsync(created, cancellationToken).ConfigureAwait(false);
        return created;
    }

    /// <summary>Describes a topic.</summary>
    /// <param name="name">Topic name.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <returns>The topic: name, partition count, settings.</returns>
    /// <exception cref="AdminException"><see cref="ErrorCode.UnknownTopicOrPartition"/>, <see cref="ErrorCode.InvalidTopic"/>, or <see cref="ErrorCode.RequestTimedOut"/>.</exception>
    public async Task<TopicDescription> DescribeTopicAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!TopicName.IsValid(name, out string? reason))
        {
            throw new AdminException(ErrorCode.InvalidTopic, reason!, null, name);
        }

        TopicResult result = await CallAsync(() => _transport.DescribeTopicAsync(name), idempotent: true, $"Describing topic '{name}'", name, cancellationToken).ConfigureAwait(false);
        return Unwrap(result, name);
    }

    /// <summary>
    /// Describes a topic as a producer's metadata request does (Kafka's <c>Metadata</c> with <c>allow_auto_topic_creation</c>): a topic that
    /// does not exist is created first (<c>Broker:DefaultPartitions</c> partitions, default settings) when the broker runs with
    /// <c>Broker:AutoCreateTopics</c>; otherwise the same as <see cref="DescribeTopicAsync"/>.
    /// </summary>
    /// <param name="name">Topic name.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <returns>The topic: name, partition count, settings.</returns>
    /// <exception cref="AdminException"><see cref="ErrorCode.UnknownTopicOrPartition"/> (auto-creation off), <see cref="ErrorCode.InvalidTopic"/>,
    /// or <see cref="ErrorCode.RequestTimedOut"/>.</exception>
    public async Task<TopicDescription> GetTopicMetadataAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!TopicName.IsValid(name, out string? reason))
        {
            throw new AdminException(ErrorCode.InvalidTopic, reason!, null, name);
        }

        TopicResult result = await CallAsync(() => _transport.GetTopicMetadataAsync(name, allowAutoTopicCreation: true), idempotent: true, $"Reading the metadata of topic '{name}'", name, cancellationToken).ConfigureAwait(false);
        return Unwrap(result, name);
    }

    /// <summary>Lists every topic, ordered by name.</summary>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <returns>The topics.</returns>
    /// <exception cref="AdminException"><see cref="ErrorCode.RequestTimedOut"/> when the broker did not answer.</exception>
    public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(_transport.ListTopicsAsync, idempotent: true, "Listing topics", null, cancellationToken);

    /// <summary>Reads a partition's log start offset and high watermark (Kafka's <c>ListOffsets</c>).</summary>
    /// <param name="partition">The partition.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <returns>The offsets.</returns>
    /// <exception cref="AdminException"><see cref="ErrorCode.UnknownTopicOrPartition"/> or <see cref="ErrorCode.RequestTimedOut"/>.</exception>
    public async Task<WatermarkOffsets> ListOffsetsAsync(TopicPartition partition, CancellationToken cancellationToken = default)
    {
        PartitionOffsets offsets = await CallAsync(() => _transport.ListOffsetsAsync(partition.Topic, partition.Partition), idempotent: true, $"Listing the offsets of {partition}", partition.Topic, cancellationToken).ConfigureAwait(false);
        if (offsets.Error != ErrorCode.None)
        {
            throw new AdminException(offsets.Error, $"Listing the offsets of {partition} failed: {offsets.Error}.", null, partition.Topic);
        }

        return new WatermarkOffsets(offsets.LogStartOffset, offsets.HighWatermark);
    }

    /// <summary>Calls every partition of a new topic once (at most <see cref="MaxConcurrentOpens"/> at a time), so each opens its log now.</summary>
    private Task OpenPartitionsAsync(TopicDescription topic, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(
            Enumerable.Range(0, topic.PartitionCount),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentOpens, CancellationToken = cancellationToken },
            async (partition, token) =>
            {
                try
                {
                    _ = await CallFaults.WithDeadline(_transport.ListOffsetsAsync(topic.Name, partition), _requestTimeout, _time, _transport, token).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // Best effort: the topic exists either way, and a partition that cannot open reports it when used.
                catch (Exception) when (!token.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            });

    private static TopicDescription Unwrap(TopicResult result, string name)
    {
        if (result.Error != ErrorCode.None || result.Topic is null)
        {
            ErrorCode code = result.Error == ErrorCode.None ? ErrorCode.UnknownTopicOrPartition : result.Error;
            string message = result.Message ?? (code == ErrorCode.UnknownTopicOrPartition ? $"Topic '{name}' does not exist." : $"The broker refused the request for topic '{name}': {code}.");
            throw new AdminException(code, message, null, name);
        }

        return result.Topic;
    }

    /// <summary>
    /// One call with a per-call deadline. Failures that never reached the grain are retried until the request timeout;
    /// failures of unknown outcome are retried only for idempotent calls.
    /// </summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call, bool idempotent, string what, string? topic, CancellationToken cancellationToken)
    {
        DateTimeOffset deadline = _time.GetUtcNow() + _requestTimeout;
        for (int attempt = 1; ; attempt++)
        {
            TimeSpan remaining = deadline - _time.GetUtcNow();
            try
            {
                return await CallFaults.WithDeadline(call(), remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1), _time, _transport, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && CallFaults.Classify(ex) != CallFault.Fatal)
            {
                CallFault fault = CallFaults.Classify(ex);
                bool retry = (fault == CallFault.NotExecuted || idempotent) && _time.GetUtcNow() < deadline;
                if (!retry)
                {
                    string outcome = fault == CallFault.OutcomeUnknown && !idempotent ? " (it may have been applied)" : "";
                    throw new AdminException(ErrorCode.RequestTimedOut, $"{what} failed{outcome}: {ex.Message}", ex, topic);
                }

                await Task.Delay(CallFaults.Backoff(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
