using System.Diagnostics;
using System.Globalization;
using OrleansBroker.Client;

namespace OrleansBroker.Cli.Perf;

/// <summary>Figures of one consume run.</summary>
internal sealed record ConsumePerfResult
{
    public required long Records { get; init; }

    public required long Bytes { get; init; }

    public required int Partitions { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>True when fewer than the requested records arrived before the idle timeout.</summary>
    public required bool TimedOut { get; init; }

    public long ClientAllocatedBytes { get; init; }

    public double RecordsPerSecond => Records / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public double MegabytesPerSecond => Bytes / Math.Max(Elapsed.TotalSeconds, 1e-9) / (1024 * 1024);
}

/// <summary>
/// The consume workload (Kafka's <c>kafka-consumer-perf-test</c>): assign every partition of the topic at the log start offset and read
/// until N records arrived; bytes count keys and values. The clock starts at the assignment and stops at the N-th record.
/// </summary>
internal static class ConsumePerf
{
    public static async Task<ConsumePerfResult> RunAsync(BrokerClient client, string topic, long records, int maxPartitionFetchBytes, TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(records);
        TopicDescription description = await client.Admin.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false);
        int partitions = description.PartitionCount;

        await using Consumer consumer = client.CreateConsumer(new ConsumerOptions { MaxPartitionFetchBytes = maxPartitionFetchBytes });
        long count = 0;
        long bytes = 0;
        bool timedOut = false;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        long began = Stopwatch.GetTimestamp();
        TimeSpan elapsed = TimeSpan.Zero;
        long last = began;
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(idleTimeout);
        try
        {
            await foreach (ConsumeResult r in consumer.ConsumeAsync(idle.Token).ConfigureAwait(false))
            {
                bytes += (r.Key?.Length ?? 0) + (r.Value?.Length ?? 0);
                last = Stopwatch.GetTimestamp();
                if (++count >= records)
                {
                    elapsed = Stopwatch.GetElapsedTime(began);
                    break;
                }

                if ((count & 0xFFFF) == 0)
                {
                    idle.CancelAfter(idleTimeout);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            timedOut = true;
            elapsed = Stopwatch.GetElapsedTime(began, last);
        }

        return new ConsumePerfResult
        {
            Records = count,
            Bytes = bytes,
            Partitions = partitions,
            Elapsed = elapsed,
            TimedOut = timedOut,
            ClientAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore,
        };
    }

    /// <summary>One summary line.</summary>
    public static string Describe(ConsumePerfResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        string end = r.TimedOut ? " (stopped by the idle timeout before all records arrived)." : ".";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{r.Records} records consumed, {r.RecordsPerSecond:F1} records/sec ({r.MegabytesPerSecond:F2} MB/sec), {r.Elapsed.TotalSeconds:F2} s over {r.Partitions} partitions{end}");
    }
}
