using System.Text;
using OrleansBroker.Client;
using OrleansBroker.ClusterTests.Infrastructure;
using OrleansBroker.ClusterTests.Infrastructure.Faults;
using OrleansBroker.Protocol;
using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Scenarios;

/// <summary>Shared steps of the scenario tests: topics, producers with test-friendly timings, hand-built batches, log assertions.</summary>
internal static class ScenarioKit
{
    /// <summary>Timestamp of hand-built batches (ms since the Unix epoch).</summary>
    public const long Timestamp = 1_700_000_000_000;

    /// <summary>
    /// Producer options for scenarios: every record its own batch (linger 0), short backoff so retries do not stretch the test,
    /// generous request and delivery timeouts so only injected faults cause failures.
    /// </summary>
    public static ProducerOptions ProducerOptions(string? identity = null) => new()
    {
        LingerMs = 0,
        RetryBackoff = TimeSpan.FromMilliseconds(10),
        RetryBackoffMax = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(5),
        DeliveryTimeout = TimeSpan.FromSeconds(30),
        ProducerIdentity = identity,
    };

    /// <summary>Creates a topic with a unique name.</summary>
    public static async Task<string> CreateTopicAsync(BrokerClusterFixture fixture, string prefix, int partitions = 1)
    {
        string topic = prefix + "-" + Guid.NewGuid().ToString("N")[..12];
        TopicResult created = await Wait.ForAsync(
            fixture.GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).CreateTopicAsync(topic, partitions, settings: null),
            Wait.Phase,
            $"creation of topic {topic}");
        Assert.Equal(ErrorCode.None, created.Error);
        return topic;
    }

    /// <summary>A new producer id from the registry, epoch 0.</summary>
    public static async Task<InitProducerIdResult> NewProducerIdAsync(BrokerClusterFixture fixture, string? identity = null)
    {
        InitProducerIdResult result = await Wait.ForAsync(
            fixture.GrainFactory.GetGrain<IProducerRegistryGrain>(ProducerRegistryGrain.Key).InitProducerIdAsync(new InitProducerIdRequest(ProducerIdentity: identity)),
            Wait.Phase,
            "InitProducerId at the registry");
        Assert.Equal(ErrorCode.None, result.Error);
        return result;
    }

    /// <summary>A hand-built record batch with UTF-8 values, as a producer seals it.</summary>
    public static byte[] Batch(long producerId, short epoch, int baseSequence, params string[] values)
    {
        var builder = new RecordBatchBuilder(1 << 20);
        foreach (string value in values)
        {
            Assert.True(builder.TryAppend(Timestamp, default, keyIsNull: true, Encoding.UTF8.GetBytes(value), valueIsNull: false, headers: null));
        }

        return builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>Sends one record through the SDK and waits for its acknowledgement, bounded.</summary>
    public static Task<DeliveryResult> SendAsync(Producer producer, string topic, int partition, string value, TimeSpan? timeout = null) =>
        Wait.ForAsync(
            producer.ProduceAsync(new TopicPartition(topic, partition), Message.FromString(value)),
            timeout ?? Wait.Phase,
            $"acknowledgement of record '{value}' at {topic}[{partition}]");

    /// <summary>The values of every record in the partition, in offset order, with their offsets.</summary>
    public static async Task<IReadOnlyList<(long Offset, string? Value)>> ReadValuesAsync(IPartitionGrain partition)
    {
        IReadOnlyList<StoredBatch> batches = await partition.ReadLogAsync();
        return [.. batches.SelectMany(b => b.Records.Select(r => (r.Offset, r.Value is { } v ? Encoding.UTF8.GetString(v.Span) : null)))];
    }

    /// <summary>Asserts the partition holds exactly these values at offsets 0, 1, 2, ...</summary>
    public static async Task AssertLogAsync(IPartitionGrain partition, params string[] values)
    {
        IReadOnlyList<(long Offset, string? Value)> stored = await ReadValuesAsync(partition);
        Assert.Equal(values.Select((v, i) => ((long)i, (string?)v)).ToArray(), stored.ToArray());
    }
}
