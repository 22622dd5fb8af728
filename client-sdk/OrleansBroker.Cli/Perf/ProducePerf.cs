using System.Diagnostics;
using System.Globalization;
using OrleansBroker.Client;

namespace OrleansBroker.Cli.Perf;

/// <summary>What <see cref="ProducePerf"/> runs (Kafka's <c>kafka-producer-perf-test</c> options).</summary>
/// <param name="Topic">Topic to write to (must exist; see <see cref="PerfTopics.EnsureAsync"/>).</param>
/// <param name="Records">Records in total, over all producers.</param>
/// <param name="RecordSize">Value size in bytes (no key).</param>
/// <param name="Producers">Producer instances (each its own producer id), sharing the records.</param>
/// <param name="Idempotence">EnableIdempotence.</param>
/// <param name="Throughput">Target records/s over all producers, or <c>null</c> for as fast as possible.</param>
/// <param name="LingerMs">linger.ms.</param>
/// <param name="BatchSize">batch.size in bytes.</param>
/// <param name="SendWhenIdle"><see cref="ProducerOptions.SendWhenIdle"/>.</param>
internal sealed record ProducePerfSettings(
    string Topic, long Records, int RecordSize, int Producers, bool Idempotence, double? Throughput, int LingerMs, int BatchSize, bool SendWhenIdle = true);

/// <summary>Figures of one produce run.</summary>
internal sealed record ProducePerfResult
{
    public required long Records { get; init; }

    public required long Acknowledged { get; init; }

    public required long Failed { get; init; }

    public required long Duplicates { get; init; }

    public required int Partitions { get; init; }

    public required TimeSpan Elapsed { get; init; }

    public required LatencySummary Latency { get; init; }

    public required long ValueBytes { get; init; }

    public string? FirstError { get; init; }

    /// <summary>Bytes allocated by this process during the run (all threads).</summary>
    public long ClientAllocatedBytes { get; init; }

    /// <summary>Gen0/gen1/gen2 collections in this process during the run.</summary>
    public (int Gen0, int Gen1, int Gen2) ClientCollections { get; init; }

    /// <summary>Time this process was paused by the garbage collector during the run (<see cref="GC.GetTotalPauseDuration"/>).</summary>
    public TimeSpan ClientGcPause { get; init; }

    public double RecordsPerSecond => Acknowledged / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public double MegabytesPerSecond => ValueBytes / Math.Max(Elapsed.TotalSeconds, 1e-9) / (1024 * 1024);
}

/// <summary>
/// The produce workload: K producers each push their share of N records of B bytes, with no key, round-robin over the partitions
/// (record j of producer k goes to partition (j + k) mod P), through <c>Producer.Produce(TopicPartition, Message, DeliveryCallback)</c>
/// (the SDK's allocation-free callback: a record's report allocates nothing), then flush. Ack latency per record = acknowledgement time − the time just before <c>Produce</c> was called.
/// </summary>
/// <remarks>
/// Explicit round-robin partitions (rather than the sticky partitioner) make every record identifiable from its report without a
/// per-record allocation: acknowledgements of one partition arrive in offset order, which is send order, so the m-th report for partition
/// p of producer k is record m·P + ((p − k) mod P). One <c>Message</c> and one payload array serve every record of a producer (the
/// producer copies the bytes into its batch on <c>Produce</c>); the workload itself allocates nothing per record. The peer benchmark drives
/// Confluent.Kafka the same way.
/// </remarks>
internal static class ProducePerf
{
    public static async Task<ProducePerfResult> RunAsync(BrokerClient client, ProducePerfSettings s, int partitions, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.Records);
        ArgumentOutOfRangeException.ThrowIfNegative(s.RecordSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(s.Producers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(partitions);

        var recorder = new LatencyRecorder(s.Records);
        byte[] payload = Payload(s.RecordSize);
        var options = new ProducerOptions
        {
            EnableIdempotence = s.Idempotence,
            LingerMs = s.LingerMs,
            BatchSize = s.BatchSize,
            SendWhenIdle = s.SendWhenIdle,
        };

        var workers = new Worker[s.Producers];
        long start = 0;
        for (int k = 0; k < workers.Length; k++)
        {
            long count = (s.Records / s.Producers) + (k < s.Records % s.Producers ? 1 : 0);
            workers[k] = new Worker(client.CreateProducer(options), s.Topic, partitions, k, start, count, recorder, payload);
            start += count;
        }

        try
        {
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            TimeSpan pausedBefore = GC.GetTotalPauseDuration();
            long began = Stopwatch.GetTimestamp();
            double? perProducerRate = s.Throughput / s.Producers;
            var tasks = new Task[workers.Length];
            for (int k = 0; k < workers.Length; k++)
            {
                Worker w = workers[k];
                RatePacer? pacer = perProducerRate is double rate ? new RatePacer(rate, time) : null;
                tasks[k] = Task.Run(() => w.PumpAsync(pacer, cancellationToken), cancellationToken);
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(began);
            long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
            var collections = (GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2);

            long acknowledged = workers.Sum(w => w.Acknowledged);
            return new ProducePerfResult
            {
                Records = s.Records,
                Acknowledged = acknowledged,
                Failed = workers.Sum(w => w.Failed),
                Duplicates = workers.Sum(w => w.Duplicates),
                Partitions = partitions,
                Elapsed = elapsed,
                Latency = recorder.Summarize(),
                ValueBytes = acknowledged * s.RecordSize,
                FirstError = workers.Select(w => w.FirstError).FirstOrDefault(e => e is not null),
                ClientAllocatedBytes = allocated,
                ClientCollections = collections,
                ClientGcPause = GC.GetTotalPauseDuration() - pausedBefore,
            };
        }
        finally
        {
            foreach (Worker w in workers)
            {
                await w.Producer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A payload of uppercase letters, as Kafka's perf test uses.</summary>
    public static byte[] Payload(int size)
    {
        var payload = new byte[size];
        var random = new Random(42);
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)('A' + random.Next(26));
        }

        return payload;
    }

    /// <summary>One line in the style of kafka-producer-perf-test.</summary>
    public static string Describe(ProducePerfResult r) => string.Create(
        CultureInfo.InvariantCulture,
        $"{r.Acknowledged} records sent, {r.RecordsPerSecond:F1} records/sec ({r.MegabytesPerSecond:F2} MB/sec), " +
        $"{r.Latency.MeanMs:F2} ms avg latency, {r.Latency.MaxMs:F2} ms max latency, " +
        $"{r.Latency.P50Ms:F2} ms 50th, {r.Latency.P99Ms:F2} ms 99th, {r.Latency.P999Ms:F2} ms 99.9th; " +
        $"{r.Failed} failed, {r.Duplicates} duplicates; {r.Elapsed.TotalSeconds:F2} s over {r.Partitions} partitions.");

    private sealed class Worker
    {
        private readonly string _topic;
        private readonly int _partitions;
        private readonly int _shift;
        private readonly long _base;
        private readonly long _count;
        private readonly LatencyRecorder _recorder;
        private readonly Message _message;
        private readonly TopicPartition[] _targets;
        private readonly long[] _acks;
        private readonly DeliveryCallback _handler;

        public Worker(Producer producer, string topic, int partitions, int index, long @base, long count, LatencyRecorder recorder, byte[] payload)
        {
            Producer = producer;
            _topic = topic;
            _partitions = partitions;
            _shift = index % partitions;
            _base = @base;
            _count = count;
            _recorder = recorder;
            _message = new Message { Value = payload };
            _targets = [.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p))];
            _acks = new long[partitions];
            _handler = OnDelivery;
        }

        public Producer Producer { get; }

        public long Acknowledged { get; private set; }

        public long Failed { get; private set; }

        public long Duplicates { get; private set; }

        public string? FirstError { get; private set; }

        public async Task PumpAsync(RatePacer? pacer, CancellationToken cancellationToken)
        {
            int partition = _shift;
            long j = 0;
            while (j < _count)
            {
                long end;
                if (pacer is not null)
                {
                    await pacer.WaitForChunkAsync(cancellationToken).ConfigureAwait(false);
                    end = Math.Min(_count, j + pacer.Chunk);
                }
                else
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    end = Math.Min(_count, j + 4096);
                }

                for (; j < end; j++)
                {
                    _recorder.Sent(_base + j);
                    Producer.Produce(_targets[partition], _message, _handler);
                    if (++partition == _partitions)
                    {
                        partition = 0;
                    }
                }
            }

            await Producer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        // Runs on the producer's dispatcher task, one report at a time, in offset order per partition.
        private void OnDelivery(in DeliveryOutcome report)
        {
            long now = Stopwatch.GetTimestamp();
            bool success = report.Error is null;
            if (!success)
            {
                Failed++;
                FirstError ??= $"{report.Error!.ErrorCode}: {report.Error.Message}";
            }
            else
            {
                Acknowledged++;
                if (report.IsDuplicate)
                {
                    Duplicates++;
                }
            }

            int p = report.Partition;
            if (p < 0 || p >= _partitions)
            {
                return; // Failed before it was routed; cannot be matched to a send (the run is reported as failed).
            }

            long m = _acks[p]++;
            long local = (m * _partitions) + (((p - _shift) % _partitions) + _partitions) % _partitions;
            if (local < _count)
            {
                _recorder.Acknowledged(_base + local, now, success);
            }
        }
    }
}

/// <summary>Creates or checks the topic a perf run writes to.</summary>
internal static class PerfTopics
{
    /// <summary>A fresh topic name: <c>perf-yyyyMMdd-HHmmss-xxxx</c>.</summary>
    public static string FreshName(TimeProvider time) =>
        string.Create(CultureInfo.InvariantCulture, $"perf-{time.GetUtcNow():yyyyMMdd-HHmmss}-{Random.Shared.Next(0x10000):x4}");

    /// <summary>Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions unless it exists; returns its partition count.</summary>
    public static async Task<(int Partitions, bool Created)> EnsureAsync(BrokerClient client, string topic, int partitions, CancellationToken cancellationToken)
    {
        try
        {
            TopicDescription existing = await client.Admin.DescribeTopicAsync(topic, cancellationToken).ConfigureAwait(false);
            return (existing.PartitionCount, false);
        }
        catch (AdminException ex) when (ex.ErrorCode == ErrorCode.UnknownTopicOrPartition)
        {
            TopicDescription created = await client.Admin.CreateTopicAsync(topic, partitions, null, cancellationToken).ConfigureAwait(false);
            return (created.PartitionCount, true);
        }
    }
}
