using System.Diagnostics;
using Confluent.Kafka;
using OrleansBroker.Cli.Perf;

namespace OrleansBroker.Benchmarks.Peer;

/// <summary>
/// The same produce and consume workloads as <see cref="ProducePerf"/>/<see cref="ConsumePerf"/>, driven through Confluent.Kafka 2.16.0
/// (librdkafka) against a Kafka-protocol broker: K producers, N records of B bytes without key, round-robin over explicit partitions,
/// one reused message, ack latency from just before <c>Produce</c> to the delivery report. Producer config: acks=all,
/// enable.idempotence as asked, linger.ms and batch.size as ours, delivery reports with the status only (the fastest setting);
/// everything else librdkafka's defaults. When librdkafka's local queue
/// is full (queue.buffering.max.messages, 100,000 by default) the pump waits 1 ms and retries, as rdkafka_performance does.
/// </summary>
internal static class KafkaPeer
{
    /// <summary>librdkafka's own batch figures of the last produce run (from its statistics: messages and bytes per batch).</summary>
    public static string? LastBatchStatistics { get; private set; }

    public static async Task<ProducePerfResult> ProduceAsync(string bootstrapServers, ProducePerfSettings s, int partitions, CancellationToken cancellationToken)
    {
        var recorder = new LatencyRecorder(s.Records);
        byte[] payload = ProducePerf.Payload(s.RecordSize);
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = s.Idempotence,
            Acks = Acks.All,
            LingerMs = s.LingerMs,
            BatchSize = s.BatchSize,
            MessageMaxBytes = Math.Max(1_000_000, s.BatchSize + 1024),

            // The handler reads only the status and the partition: do not marshal key, value, headers and timestamp back per record.
            DeliveryReportFields = "status",

            // For the batch-size figures only (one JSON document a second, parsed after the run).
            StatisticsIntervalMs = 1000,
        };
        string? statistics = null;

        var workers = new Worker[s.Producers];
        long start = 0;
        for (int k = 0; k < workers.Length; k++)
        {
            long count = (s.Records / s.Producers) + (k < s.Records % s.Producers ? 1 : 0);
            workers[k] = new Worker(new ProducerBuilder<Null, byte[]>(config).SetStatisticsHandler((_, json) => Volatile.Write(ref statistics, json)).Build(), s.Topic, partitions, k, start, count, recorder, payload);
            start += count;
        }

        try
        {
            // As on our side, the clock starts right after the producers are created (librdkafka connects and gets its producer id in the
            // background meanwhile; our SDK does it on the first batch, inside the run).
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            long began = Stopwatch.GetTimestamp();
            double? perProducerRate = s.Throughput / s.Producers;
            var tasks = new Task[workers.Length];
            for (int k = 0; k < workers.Length; k++)
            {
                Worker w = workers[k];
                RatePacer? pacer = perProducerRate is double rate ? new RatePacer(rate, TimeProvider.System) : null;
                tasks[k] = Task.Run(() => w.PumpAsync(pacer, cancellationToken), cancellationToken);
            }

            await Task.WhenAll(tasks);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(began);
            long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
            long acknowledged = workers.Sum(w => w.Acknowledged);
            LastBatchStatistics = BatchFigures(Volatile.Read(ref statistics), s.Topic) + $", local queue full {workers.Sum(w => w.QueueFull)} times";
            return new ProducePerfResult
            {
                Records = s.Records,
                Acknowledged = acknowledged,
                Failed = workers.Sum(w => w.Failed),
                Duplicates = 0,
                Partitions = partitions,
                Elapsed = elapsed,
                Latency = recorder.Summarize(),
                ValueBytes = acknowledged * s.RecordSize,
                FirstError = workers.Select(w => w.FirstError).FirstOrDefault(e => e is not null),
                ClientAllocatedBytes = allocated,
                ClientCollections = (GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2),
            };
        }
        finally
        {
            foreach (Worker w in workers)
            {
                w.Producer.Dispose();
            }
        }
    }

    private static string? BatchFigures(string? statistics, string topic)
    {
        if (statistics is null)
        {
            return null;
        }

        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(statistics);
            System.Text.Json.JsonElement t = document.RootElement.GetProperty("topics").GetProperty(topic);
            double count = t.GetProperty("batchcnt").GetProperty("avg").GetDouble();
            double size = t.GetProperty("batchsize").GetProperty("avg").GetDouble();
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"librdkafka batches avg {count:F0} records, {size / 1024:F0} KiB (last stats window)");
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads every partition from its log start offset until <paramref name="records"/> records, or everything the broker still holds,
    /// arrived. librdkafka's mock cluster keeps only the newest 5 MiB (or 100,000 batches) of each partition and drops older batches, so
    /// a run reads what is retained: the returned result says how many records that was.
    /// </summary>
    public static ConsumePerfResult Consume(string bootstrapServers, string topic, int partitions, long records, TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "obroker-peer-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            EnablePartitionEof = false,

            // A producer batch can be up to batch.size (1 MiB) plus overhead: let one always fit in a partition fetch.
            MaxPartitionFetchBytes = 4 << 20,
            FetchMaxBytes = 64 << 20,
        };
        using IConsumer<Ignore, byte[]> consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        long retained = 0;
        for (int p = 0; p < partitions; p++)
        {
            WatermarkOffsets w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            retained += w.High.Value - w.Low.Value;
        }

        long target = Math.Min(records, retained);
        long count = 0;
        long bytes = 0;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        long began = Stopwatch.GetTimestamp();
        long last = began;
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        bool timedOut = false;
        while (count < target)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ConsumeResult<Ignore, byte[]>? r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null)
            {
                if (Stopwatch.GetElapsedTime(last) > idleTimeout)
                {
                    timedOut = true;
                    break;
                }

                continue;
            }

            if (r.IsPartitionEOF)
            {
                continue;
            }

            bytes += r.Message.Value?.Length ?? 0;
            count++;
            last = Stopwatch.GetTimestamp();
        }

        consumer.Close();
        return new ConsumePerfResult
        {
            Records = count,
            Bytes = bytes,
            Partitions = partitions,
            Elapsed = Stopwatch.GetElapsedTime(began, last),
            TimedOut = timedOut || count < records,
            ClientAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore,
        };
    }

    private sealed class Worker
    {
        private readonly int _partitions;
        private readonly int _shift;
        private readonly long _base;
        private readonly long _count;
        private readonly LatencyRecorder _recorder;
        private readonly Message<Null, byte[]> _message;
        private readonly TopicPartition[] _targets;
        private readonly long[] _acks;
        private readonly Action<DeliveryReport<Null, byte[]>> _handler;
        private readonly TaskCompletionSource _reported = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _reports;
        private long _queueFull;
        private long _acknowledged;
        private long _failed;
        private string? _firstError;

        public Worker(IProducer<Null, byte[]> producer, string topic, int partitions, int index, long @base, long count, LatencyRecorder recorder, byte[] payload)
        {
            Producer = producer;
            _partitions = partitions;
            _shift = index % partitions;
            _base = @base;
            _count = count;
            _recorder = recorder;
            _message = new Message<Null, byte[]> { Value = payload };
            _targets = [.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, new Partition(p)))];
            _acks = new long[partitions];
            _handler = OnDelivery;
        }

        public IProducer<Null, byte[]> Producer { get; }

        public long Acknowledged => Interlocked.Read(ref _acknowledged);

        public long QueueFull => _queueFull;

        public long Failed => Interlocked.Read(ref _failed);

        public string? FirstError => Volatile.Read(ref _firstError);

        public async Task PumpAsync(RatePacer? pacer, CancellationToken cancellationToken)
        {
            int partition = _shift;
            long j = 0;
            while (j < _count)
            {
                long end;
                if (pacer is not null)
                {
                    await pacer.WaitForChunkAsync(cancellationToken);
                    end = Math.Min(_count, j + pacer.Chunk);
                }
                else
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    end = Math.Min(_count, j + 4096);
                }

                while (j < end)
                {
                    _recorder.Sent(_base + j);
                    try
                    {
                        Producer.Produce(_targets[partition], _message, _handler);
                    }
                    catch (ProduceException<Null, byte[]> ex) when (ex.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
                    {
                        // librdkafka's queue.buffering.max.* reached: serve delivery reports until the queue has room (its documented
                        // way to wait), rather than sleeping a fixed time.
                        _queueFull++;
                        Producer.Poll(TimeSpan.FromMilliseconds(1));
                        continue;
                    }

                    j++;
                    if (++partition == _partitions)
                    {
                        partition = 0;
                    }
                }
            }

            while (Producer.Flush(TimeSpan.FromSeconds(1)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            // Flush returns when librdkafka's queue is empty, possibly before the last delivery handlers finished on the poll thread.
            try
            {
                await _reported.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"Only {Volatile.Read(ref _reports)} of {_count} delivery reports arrived ({_queueFull} queue-full retries).");
            }
        }

        // Confluent.Kafka's poll thread, and during Flush also the flushing thread (rd_kafka_flush serves the queue): counters are atomic.
        // Reports of one partition are dequeued in offset order; two threads may swap two neighbouring reports' indices, which moves a
        // latency by the microseconds between two sends.
        private void OnDelivery(DeliveryReport<Null, byte[]> report)
        {
            long now = Stopwatch.GetTimestamp();
            bool success = !report.Error.IsError;
            if (success)
            {
                Interlocked.Increment(ref _acknowledged);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                Interlocked.CompareExchange(ref _firstError, report.Error.ToString(), null);
            }

            int p = report.Partition.Value;
            if (p >= 0 && p < _partitions)
            {
                long m = Interlocked.Increment(ref _acks[p]) - 1;
                long local = (m * _partitions) + (((p - _shift) % _partitions) + _partitions) % _partitions;
                if (local < _count)
                {
                    _recorder.Acknowledged(_base + local, now, success);
                }
            }

            if (Interlocked.Increment(ref _reports) == _count)
            {
                _reported.TrySetResult();
            }
        }
    }
}
