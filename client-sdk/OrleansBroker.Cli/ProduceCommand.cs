using System.CommandLine;
using System.Diagnostics;
using System.Text;
using OrleansBroker.Client;
using Spectre.Console;

namespace OrleansBroker.Cli;

/// <summary><c>obroker produce &lt;topic&gt;</c>: one record per line of a file or stdin.</summary>
internal static class ProduceCommand
{
    public static Command Build()
    {
        var topic = new Argument<string>("topic") { Description = "Topic to write to." };
        var file = new Option<FileInfo?>("--file") { Description = "Read lines from this file instead of stdin." };
        var keySeparator = new Option<string?>("--key-separator") { Description = "Split each line at the first occurrence of this text: key before, value after." };
        var partition = new Option<int?>("--partition") { Description = "Write every record to this partition instead of using the partitioner." };
        var noIdempotence = new Option<bool>("--no-idempotence") { Description = "Turn the idempotent producer off (a retry may then duplicate records)." };
        var lingerMs = new Option<int>("--linger-ms") { Description = "linger.ms: how long a batch waits for more records.", DefaultValueFactory = _ => ProducerOptions.Default.LingerMs };
        var batchSize = new Option<int>("--batch-size") { Description = "batch.size in bytes.", DefaultValueFactory = _ => ProducerOptions.Default.BatchSize };
        Common.AtLeast(partition, 0);
        Common.AtLeast(lingerMs, 0);
        Common.AtLeast(batchSize, 1024);
        keySeparator.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { Length: 0 })
            {
                r.AddError("--key-separator must not be empty.");
            }
        });

        var produce = new Command("produce", "Produce one record per line of a file (or stdin), then print a summary.")
        {
            topic, file, keySeparator, partition, noIdempotence, lingerMs, batchSize,
        };
        produce.SetAction((parse, ct) => Common.RunAsync(token => RunAsync(new Settings(
            parse.GetValue(topic)!,
            parse.GetValue(file),
            parse.GetValue(keySeparator),
            parse.GetValue(partition),
            !parse.GetValue(noIdempotence),
            parse.GetValue(lingerMs),
            parse.GetValue(batchSize)), parse, token), ct));
        return produce;
    }

    private static async Task<int> RunAsync(Settings s, ParseResult parse, CancellationToken cancellationToken)
    {
        if (s.File is { Exists: false })
        {
            throw new UsageException($"File '{s.File.FullName}' does not exist.");
        }

        var stopwatch = Stopwatch.StartNew();
        await using BrokerClient client = await Common.ConnectAsync(parse, cancellationToken);
        TopicDescription topic = await client.Admin.GetTopicMetadataAsync(s.Topic, cancellationToken); // created here with Broker:AutoCreateTopics
        if (s.Partition is int p && p >= topic.PartitionCount)
        {
            throw new AdminException(ErrorCode.UnknownTopicOrPartition, $"Topic '{s.Topic}' has {topic.PartitionCount} partition{(topic.PartitionCount == 1 ? "" : "s")}; there is no partition {p}.", null, s.Topic);
        }

        var stats = new Stats();
        Producer producer = client.CreateProducer(new ProducerOptions
        {
            EnableIdempotence = s.Idempotence,
            LingerMs = s.LingerMs,
            BatchSize = Math.Min(s.BatchSize, topic.Settings.MaxMessageBytes),
        });
        bool interrupted = false;
        await using (producer)
        {
            Stream input = s.File is { } f
                ? new FileStream(f.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous)
                : Console.OpenStandardInput();
            await using (input)
            {
                long? length = s.File?.Length;
                byte[]? separator = s.KeySeparator is null ? null : Encoding.UTF8.GetBytes(s.KeySeparator);
                try
                {
                    if (!Console.IsOutputRedirected)
                    {
                        await AnsiConsole.Progress()
                            .AutoClear(true)
                            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                            .StartAsync(async ctx =>
                            {
                                ProgressTask task = ctx.AddTask($"producing to {s.Topic}", maxValue: length is > 0 ? length.Value : 1);
                                task.IsIndeterminate = length is null;
                                await PumpAsync(input, producer, s, separator, stats, position => task.Value = length is > 0 ? position : 0, cancellationToken);
                                await producer.FlushAsync(cancellationToken);
                                task.Value = task.MaxValue;
                            });
                    }
                    else
                    {
                        await PumpAsync(input, producer, s, separator, stats, null, cancellationToken);
                        await producer.FlushAsync(cancellationToken);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    interrupted = true;
                }
            }
        }

        stopwatch.Stop();
        double seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-6);
        Console.Out.WriteLine(
            $"Produced {stats.Records} records ({stats.Bytes} bytes) to '{s.Topic}' in {seconds:F2} s ({stats.Records / seconds:F0} records/s): " +
            $"{stats.Acknowledged} acknowledged, {stats.Duplicates} duplicates absorbed, {stats.Failed} failed.");
        if (stats.FirstError is { } error)
        {
            await Common.Error($"{stats.Failed} records were not delivered; first failure: {error.Message} ({error.ErrorCode})");
            return ExitCodes.BrokerError;
        }

        return interrupted ? ExitCodes.Interrupted : ExitCodes.Ok;
    }

    private static async Task PumpAsync(Stream input, Producer producer, Settings s, byte[]? separator, Stats stats, Action<long>? progress, CancellationToken cancellationToken)
    {
        var reader = new LineReader(input);
        Action<DeliveryReport> handler = stats.OnDelivery;
        TopicPartition? fixedPartition = s.Partition is int p ? new TopicPartition(s.Topic, p) : null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            Message message = Split(line, separator);
            stats.Records++;
            stats.Bytes += line.Length;
            try
            {
                if (fixedPartition is { } tp)
                {
                    producer.Produce(tp, message, handler);
                }
                else
                {
                    producer.Produce(s.Topic, message, handler);
                }
            }
            catch (ProduceException ex)
            {
                stats.OnDelivery(new DeliveryReport { Error = ex, Message = message, Topic = s.Topic });
                if (ex.IsFatal)
                {
                    return;
                }
            }

            if (progress is not null && (stats.Records & 1023) == 0)
            {
                progress(reader.Position);
            }
        }

        progress?.Invoke(reader.Position);
    }

    private static Message Split(byte[] line, byte[]? separator)
    {
        if (separator is not null)
        {
            int at = line.AsSpan().IndexOf(separator);
            if (at >= 0)
            {
                return new Message { Key = line[..at], Value = line[(at + separator.Length)..] };
            }
        }

        return new Message { Value = line };
    }

    private sealed record Settings(string Topic, FileInfo? File, string? KeySeparator, int? Partition, bool Idempotence, int LingerMs, int BatchSize);

    private sealed class Stats
    {
        private long _acknowledged;
        private long _duplicates;
        private long _failed;
        private ProduceException? _firstError;

        public long Records { get; set; }

        public long Bytes { get; set; }

        public long Acknowledged => Interlocked.Read(ref _acknowledged);

        public long Duplicates => Interlocked.Read(ref _duplicates);

        public long Failed => Interlocked.Read(ref _failed);

        public ProduceException? FirstError => Volatile.Read(ref _firstError);

        public void OnDelivery(DeliveryReport report)
        {
            if (report.Error is { } error)
            {
                Interlocked.Increment(ref _failed);
                Interlocked.CompareExchange(ref _firstError, error, null);
                return;
            }

            Interlocked.Increment(ref _acknowledged);
            if (report.IsDuplicate)
            {
                Interlocked.Increment(ref _duplicates);
            }
        }
    }
}
