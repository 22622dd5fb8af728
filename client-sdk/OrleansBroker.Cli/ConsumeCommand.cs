using System.CommandLine;
using System.Diagnostics;
using System.Text;
using OrleansBroker.Client;

namespace OrleansBroker.Cli;

/// <summary>
/// <c>obroker consume &lt;topic&gt;</c>: prints one value per line. First it reads each partition, in partition order, up to
/// the end it finds; then it follows every partition until <c>--idle-timeout-ms</c> passes without a new record.
/// Only data goes to stdout; the summary goes to stderr.
/// </summary>
internal static class ConsumeCommand
{
    private static readonly byte[] NullText = "null"u8.ToArray();

    public static Command Build()
    {
        var topic = new Argument<string>("topic") { Description = "Topic to read." };
        var partition = new Option<int?>("--partition") { Description = "Read only this partition." };
        var fromBeginning = new Option<bool>("--from-beginning") { Description = "Start at the log start offset (default: the end, new records only)." };
        var offset = new Option<long?>("--offset") { Description = "Start at this offset (in every partition read)." };
        var maxMessages = new Option<long?>("--max-messages") { Description = "Exit after this many records." };
        var idleTimeoutMs = new Option<int>("--idle-timeout-ms") { Description = "Exit after this many ms without a new record (0: as soon as caught up).", DefaultValueFactory = _ => 5000 };
        var printKey = new Option<bool>("--print-key") { Description = "Print the key, the separator, then the value." };
        var keySeparator = new Option<string>("--key-separator") { Description = "Separator printed between key and value with --print-key.", DefaultValueFactory = _ => "\t" };
        Common.AtLeast(partition, 0);
        Common.AtLeast(offset, 0);
        Common.AtLeast(maxMessages, 1);
        Common.AtLeast(idleTimeoutMs, 0);

        var consume = new Command("consume", "Print a topic's records, one value per line.")
        {
            topic, partition, fromBeginning, offset, maxMessages, idleTimeoutMs, printKey, keySeparator,
        };
        consume.Validators.Add(r =>
        {
            if (r.GetValue(fromBeginning) && r.GetValue(offset) is not null)
            {
                r.AddError("--from-beginning and --offset cannot be used together.");
            }
        });
        consume.SetAction((parse, ct) => Common.RunAsync(token => RunAsync(new Settings(
            parse.GetValue(topic)!,
            parse.GetValue(partition),
            parse.GetValue(offset) is long o ? new Offset(o) : parse.GetValue(fromBeginning) ? Offset.Beginning : Offset.End,
            parse.GetValue(maxMessages) ?? long.MaxValue,
            parse.GetValue(idleTimeoutMs),
            parse.GetValue(printKey),
            Encoding.UTF8.GetBytes(parse.GetValue(keySeparator) ?? "\t")), parse, token), ct));
        return consume;
    }

    private static async Task<int> RunAsync(Settings s, ParseResult parse, CancellationToken cancellationToken)
    {
        await using BrokerClient client = await Common.ConnectAsync(parse, cancellationToken);
        TopicDescription topic = await client.Admin.GetTopicMetadataAsync(s.Topic, cancellationToken); // created here with Broker:AutoCreateTopics
        if (s.Partition is int only && only >= topic.PartitionCount)
        {
            throw new AdminException(ErrorCode.UnknownTopicOrPartition, $"Topic '{s.Topic}' has {topic.PartitionCount} partition{(topic.PartitionCount == 1 ? "" : "s")}; there is no partition {only}.", null, s.Topic);
        }

        int[] partitions = s.Partition is int p ? [p] : [.. Enumerable.Range(0, topic.PartitionCount)];
        var stopwatch = Stopwatch.StartNew();
        TimeSpan lastRecordAt = TimeSpan.Zero;
        long count = 0;
        long bytes = 0;
        bool interrupted = false;
        await using Stream stdout = Console.OpenStandardOutput();
        await using var output = new BufferedStream(stdout, 1 << 16);
        await using Consumer consumer = client.CreateConsumer(new ConsumerOptions { EnablePartitionEof = true });

        void Write(ConsumeResult r)
        {
            if (s.PrintKey)
            {
                output.Write(r.Key ?? NullText);
                output.Write(s.KeySeparator);
            }

            byte[] value = r.Value ?? NullText;
            output.Write(value);
            output.WriteByte((byte)'\n');
            count++;
            bytes += value.Length;
            lastRecordAt = stopwatch.Elapsed;
        }

        try
        {
            // Phase 1: each partition in order, up to the end found, so a one-partition topic prints exactly what was produced.
            var positions = new List<TopicPartitionOffset>();
            foreach (int partition in partitions)
            {
                var tp = new TopicPartition(s.Topic, partition);
                consumer.Assign(new TopicPartitionOffset(tp, s.Start));
                if (count < s.MaxMessages)
                {
                    await foreach (ConsumeResult r in consumer.ConsumeAsync(cancellationToken))
                    {
                        if (r.IsPartitionEof)
                        {
                            break;
                        }

                        Write(r);
                        if (count >= s.MaxMessages)
                        {
                            break;
                        }
                    }
                }

                Offset position = consumer.Position(tp);
                positions.Add(new TopicPartitionOffset(tp, position == Offset.Unset ? s.Start : position));
            }

            // Phase 2: follow every partition until nothing new arrives for the idle timeout.
            if (count < s.MaxMessages && s.IdleTimeoutMs > 0)
            {
                await output.FlushAsync(cancellationToken);
                consumer.Assign(positions);
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                idle.CancelAfter(s.IdleTimeoutMs);
                try
                {
                    await foreach (ConsumeResult r in consumer.ConsumeAsync(idle.Token))
                    {
                        if (r.IsPartitionEof)
                        {
                            await output.FlushAsync(cancellationToken);
                            continue;
                        }

                        idle.CancelAfter(s.IdleTimeoutMs);
                        Write(r);
                        if (count >= s.MaxMessages)
                        {
                            break;
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Idle timeout: done.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
        }
        catch (ConsumeException ex) when (ex.ErrorCode == ErrorCode.OffsetOutOfRange && ex.TopicPartition is { } outside)
        {
            // The SDK's message names its own option (AutoOffsetReset); here the user's choices are the command's options.
            await output.FlushAsync(CancellationToken.None);
            WatermarkOffsets range = await consumer.QueryWatermarkOffsetsAsync(outside, cancellationToken);
            string holds = range.HighWatermark > range.LogStartOffset
                ? $"it holds offsets {range.LogStartOffset} to {range.HighWatermark - 1}; use --from-beginning, or an --offset from {range.LogStartOffset} to {range.HighWatermark} (the end: new records only)"
                : $"it holds no record (log start offset = high watermark = {range.HighWatermark}); use --from-beginning";
            string every = partitions.Length > 1 ? $" --offset applies to each of the {partitions.Length} partitions; --partition N reads one." : string.Empty;
            throw new ConsumeException(ErrorCode.OffsetOutOfRange, $"Offset {ex.Offset} is outside {outside}: {holds}.{every}", ex, outside, ex.Offset);
        }

        await output.FlushAsync(CancellationToken.None);
        double seconds = Math.Max(lastRecordAt.TotalSeconds, 1e-6);
        await Console.Error.WriteLineAsync(
            $"Consumed {count} records ({bytes} bytes) from '{s.Topic}' partition{(partitions.Length == 1 ? "" : "s")} {string.Join(",", partitions)} in {lastRecordAt.TotalSeconds:F2} s ({(count == 0 ? 0 : count / seconds):F0} records/s).");
        return interrupted ? ExitCodes.Ok : ExitCodes.Ok;
    }

    private sealed record Settings(string Topic, int? Partition, Offset Start, long MaxMessages, int IdleTimeoutMs, bool PrintKey, byte[] KeySeparator);
}
