using System.CommandLine;
using OrleansBroker.Client;

namespace OrleansBroker.Cli.Perf;

/// <summary>
/// <c>obroker perf produce|consume</c>: load generators shaped like Kafka's <c>kafka-producer-perf-test</c> and
/// <c>kafka-consumer-perf-test</c>. Figures go to stdout as one line of text, or one JSON line with <c>--json</c>.
/// </summary>
internal static class PerfCommand
{
    public static Command Build()
    {
        var perf = new Command("perf", "Measure produce and consume throughput and acknowledgement latency.");
        perf.Subcommands.Add(BuildProduce());
        perf.Subcommands.Add(BuildConsume());
        return perf;
    }

    private static Option<int?> SiloPidOption() => new("--silo-pid")
    {
        Description = "Process id of the silo host: its peak memory (VmHWM, reset at the start when allowed) and 1 s RSS samples are reported (Linux /proc).",
    };

    private static Command BuildProduce()
    {
        var records = new Option<long>("--records") { Description = "Records to send, over all producers.", Required = true };
        var recordSize = new Option<int>("--record-size") { Description = "Value size in bytes (records have no key).", DefaultValueFactory = _ => 100 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the topic created for the run (an existing --topic keeps its own count).", DefaultValueFactory = _ => 1 };
        var producers = new Option<int>("--producers") { Description = "Producer instances (each its own producer id) sharing the records.", DefaultValueFactory = _ => 1 };
        var noIdempotence = new Option<bool>("--no-idempotence") { Description = "Turn the idempotent producer off." };
        var throughput = new Option<double?>("--throughput") { Description = "Target records/s over all producers (for latency runs); default: as fast as possible." };
        var topic = new Option<string?>("--topic") { Description = "Topic to write to (created with --partitions when missing); default: a fresh topic perf-<timestamp>." };
        var json = new Option<bool>("--json") { Description = "Print one JSON line instead of text." };
        var lingerMs = new Option<int>("--linger-ms") { Description = "linger.ms.", DefaultValueFactory = _ => ProducerOptions.Default.LingerMs };
        var batchSize = new Option<int>("--batch-size") { Description = "batch.size in bytes.", DefaultValueFactory = _ => ProducerOptions.Default.BatchSize };
        var lingerAlways = new Option<bool>("--linger-always") { Description = "Wait linger.ms also when the partition has nothing in flight (SendWhenIdle off: Kafka's linger.ms exactly)." };
        var warmupRecords = new Option<long>("--warmup-records") { Description = "Send this many records first, unmeasured (JIT warm-up of the client), to the same topic.", DefaultValueFactory = _ => 0 };
        Option<int?> siloPid = SiloPidOption();
        Common.AtLeast(records, 1);
        Common.AtLeast(warmupRecords, 0);
        Common.AtLeast(recordSize, 0);
        Common.AtLeast(partitions, 1);
        Common.AtLeast(producers, 1);
        Common.AtLeast(lingerMs, 0);
        Common.AtLeast(batchSize, 1024);
        Common.AtLeast(siloPid, 1);
        throughput.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double t && !(t > 0))
            {
                r.AddError("--throughput must be positive.");
            }
        });

        var produce = new Command("produce", "Send N records of B bytes as fast as possible (or at --throughput) and print records/s, MB/s and ack latency percentiles.")
        {
            records, recordSize, partitions, producers, noIdempotence, throughput, topic, json, lingerMs, lingerAlways, batchSize, siloPid, warmupRecords,
        };
        produce.SetAction((parse, ct) => Common.RunAsync(async token =>
        {
            TimeProvider time = TimeProvider.System;
            await using BrokerClient client = await Common.ConnectAsync(parse, token);
            string name = parse.GetValue(topic) ?? PerfTopics.FreshName(time);
            (int partitionCount, bool created) = await PerfTopics.EnsureAsync(client, name, parse.GetValue(partitions), token);
            var settings = new ProducePerfSettings(
                name,
                parse.GetValue(records),
                parse.GetValue(recordSize),
                parse.GetValue(producers),
                !parse.GetValue(noIdempotence),
                parse.GetValue(throughput),
                parse.GetValue(lingerMs),
                parse.GetValue(batchSize),
                SendWhenIdle: !parse.GetValue(lingerAlways));
            bool asJson = parse.GetValue(json);
            if (!asJson)
            {
                Console.Out.WriteLine($"{(created ? "Created" : "Using")} topic '{name}' with {partitionCount} partition{(partitionCount == 1 ? "" : "s")}.");
            }

            if (parse.GetValue(warmupRecords) is long warmup and > 0)
            {
                _ = await ProducePerf.RunAsync(client, settings with { Records = warmup, Throughput = null }, partitionCount, time, token);
            }

            using AllocationSampler? allocations = AllocationSampler.StartIfRequested();
            RssSampler? sampler = parse.GetValue(siloPid) is int pid ? new RssSampler(pid, TimeSpan.FromSeconds(1), time) : null;
            ProducePerfResult result;
            SiloMemory? silo = null;
            try
            {
                result = await ProducePerf.RunAsync(client, settings, partitionCount, time, token);
            }
            finally
            {
                if (sampler is not null)
                {
                    silo = await SiloMemory.FromSamplerAsync(parse.GetValue(siloPid)!.Value, sampler);
                }
            }

            Console.Out.WriteLine(asJson ? PerfJson.Produce(settings, name, result, silo) : ProducePerf.Describe(result));
            if (allocations is not null)
            {
                await Console.Error.WriteAsync(allocations.Report());
            }

            if (!asJson && silo is not null)
            {
                Console.Out.WriteLine(silo.Describe());
            }

            if (result.Failed > 0)
            {
                await Common.Error($"{result.Failed} records were not delivered; first failure: {result.FirstError}");
                return ExitCodes.BrokerError;
            }

            return ExitCodes.Ok;
        }, ct));
        return produce;
    }

    private static Command BuildConsume()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to read from the beginning (every partition).", Required = true };
        var records = new Option<long>("--records") { Description = "Stop after this many records.", Required = true };
        var fetchBytes = new Option<int>("--fetch-bytes") { Description = "max.partition.fetch.bytes.", DefaultValueFactory = _ => ConsumerOptions.Default.MaxPartitionFetchBytes };
        var timeoutMs = new Option<int>("--timeout-ms") { Description = "Give up when no record arrives for this many ms.", DefaultValueFactory = _ => 30_000 };
        var json = new Option<bool>("--json") { Description = "Print one JSON line instead of text." };
        Option<int?> siloPid = SiloPidOption();
        Common.AtLeast(records, 1);
        Common.AtLeast(fetchBytes, 1);
        Common.AtLeast(timeoutMs, 1);
        Common.AtLeast(siloPid, 1);

        var consume = new Command("consume", "Read N records from the beginning of every partition and print records/s and MB/s.")
        {
            topic, records, fetchBytes, timeoutMs, json, siloPid,
        };
        consume.SetAction((parse, ct) => Common.RunAsync(async token =>
        {
            TimeProvider time = TimeProvider.System;
            await using BrokerClient client = await Common.ConnectAsync(parse, token);
            string name = parse.GetValue(topic)!;
            RssSampler? sampler = parse.GetValue(siloPid) is int pid ? new RssSampler(pid, TimeSpan.FromSeconds(1), time) : null;
            ConsumePerfResult result;
            SiloMemory? silo = null;
            try
            {
                result = await ConsumePerf.RunAsync(client, name, parse.GetValue(records), parse.GetValue(fetchBytes), TimeSpan.FromMilliseconds(parse.GetValue(timeoutMs)), token);
            }
            finally
            {
                if (sampler is not null)
                {
                    silo = await SiloMemory.FromSamplerAsync(parse.GetValue(siloPid)!.Value, sampler);
                }
            }

            bool asJson = parse.GetValue(json);
            Console.Out.WriteLine(asJson ? PerfJson.Consume(name, result, silo) : ConsumePerf.Describe(result));
            if (!asJson && silo is not null)
            {
                Console.Out.WriteLine(silo.Describe());
            }

            if (result.TimedOut)
            {
                await Common.Error($"Only {result.Records} of {parse.GetValue(records)} records arrived before the {parse.GetValue(timeoutMs)} ms idle timeout.");
                return ExitCodes.BrokerError;
            }

            return ExitCodes.Ok;
        }, ct));
        return consume;
    }
}
