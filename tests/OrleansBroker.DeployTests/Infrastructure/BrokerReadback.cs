using OrleansBroker.Client;
using OrleansBroker.Testing;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>Reads whole partitions back through the SDK's consumer, for <see cref="HistoryChecker"/>.</summary>
public static class BrokerReadback
{
    /// <summary>Reads partitions 0 to <paramref name="partitions"/> - 1 of <paramref name="topic"/> from the log start to the high watermark.</summary>
    /// <param name="client">A connected client.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="partitions">The partition count.</param>
    /// <param name="cancellationToken">Bounds the read.</param>
    /// <returns>Every record, with the record id parsed from its value (<c>null</c> when it has none).</returns>
    public static async Task<List<ObservedRecord>> ReadAllAsync(BrokerClient client, string topic, int partitions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var observed = new List<ObservedRecord>();
        await using Consumer consumer = client.CreateConsumer(new ConsumerOptions { EnablePartitionEof = true, MaxPartitionFetchBytes = 4 << 20 });
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var caughtUp = new HashSet<int>();
        await foreach (ConsumeResult record in consumer.ConsumeAsync(cancellationToken))
        {
            if (record.IsPartitionEof)
            {
                if (caughtUp.Add(record.Partition) && caughtUp.Count == partitions)
                {
                    break;
                }

                continue;
            }

            observed.Add(new ObservedRecord(record.Topic, record.Partition, record.Offset, RecordIdCodec.ParseRecordId(record.Value)));
        }

        return observed;
    }
}
