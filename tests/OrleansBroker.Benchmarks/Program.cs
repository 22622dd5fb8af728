using System.CommandLine;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OrleansBroker.Benchmarks.Memory;
using OrleansBroker.Benchmarks.Peer;
using OrleansBroker.Benchmarks.Reactivation;

// Verbs:
//   micro [BenchmarkDotNet args]   hot-path micro-benchmarks (in-process toolchain: nothing is rebuilt)
//   peer                           side-by-side: librdkafka mock cluster vs our silo host (T1-T4)
//   reactivation                   T5: partition reopen time with a large log and many producers
//   memory                         T6: silo RSS while 2 GiB are produced
//   mock-broker                    (internal) the peer broker's child process
//   reactivation-append            (internal) T5's child that appends a tail and is killed
if (args.Length > 0 && args[0] == "micro")
{
    string artifacts = Path.Combine(Path.GetTempPath(), "obroker-bdn");
    IConfig config = DefaultConfig.Instance
        .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(10))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .WithArtifactsPath(artifacts);
    BenchmarkSwitcher.FromAssembly(typeof(OrleansBroker.Benchmarks.Micro.BatchEncodeBenchmarks).Assembly).Run(args[1..], config);
    return 0;
}

if (args.Length > 0 && args[0] == "mock-broker")
{
    return MockBroker.RunChild(1);
}

if (args.Length == 7 && args[0] == "reactivation-append")
{
    return await ReactivationRun.AppendChildAsync(args[1..]);
}

using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};

var records = new Option<long>("--records") { Description = "Records per run.", DefaultValueFactory = _ => 1_000_000 };
var recordSize = new Option<int>("--record-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 100 };
var partitions = new Option<int>("--partitions") { Description = "Partitions per topic.", DefaultValueFactory = _ => 4 };
var producers = new Option<int>("--producers") { Description = "Producer instances.", DefaultValueFactory = _ => 1 };
var runs = new Option<int>("--runs") { Description = "Measured runs per side and workload (alternating sides).", DefaultValueFactory = _ => 3 };
var warmup = new Option<long>("--warmup-records") { Description = "Records of each uncounted warm-up run (idempotent, not, consume) per side: JIT tiering of the silo and the clients.", DefaultValueFactory = _ => 2_000_000 };
var lingerMs = new Option<int>("--linger-ms") { Description = "linger.ms on both sides.", DefaultValueFactory = _ => 5 };
var batchSize = new Option<int>("--batch-size") { Description = "batch.size in bytes on both sides.", DefaultValueFactory = _ => 1_048_576 };
var latencyFraction = new Option<double>("--latency-fraction") { Description = "T3 rate as a fraction of our T1 median.", DefaultValueFactory = _ => 0.5 };
var latencyRate = new Option<double?>("--latency-rate") { Description = "T3 rate in records/s (overrides --latency-fraction)." };
var latencyLinger = new Option<int?>("--latency-linger-ms") { Description = "linger.ms of the T3 runs on both sides (default: --linger-ms)." };
var skipNoIdempotence = new Option<bool>("--skip-no-idempotence") { Description = "Skip T2." };
var skipLatency = new Option<bool>("--skip-latency") { Description = "Skip T3." };
var skipConsume = new Option<bool>("--skip-consume") { Description = "Skip T4." };
var siloHost = new Option<string?>("--silo-host") { Description = "Path of OrleansBroker.SiloHost.dll (default: built beside this program)." };
var keepData = new Option<bool>("--keep-data") { Description = "Keep the silo's temporary data directory." };
var siloArg = new Option<string[]>("--silo-arg") { Description = "Extra argument for the silo host (repeat), e.g. --silo-arg=--Broker:SegmentBytes --silo-arg=104857600.", DefaultValueFactory = _ => [] };

var peer = new Command("peer", "Side-by-side: librdkafka's mock cluster (Confluent.Kafka) vs our silo host, alternating runs; prints medians and ours/peer.")
{
    records, recordSize, partitions, producers, runs, warmup, lingerMs, batchSize, latencyFraction, latencyRate, latencyLinger, skipNoIdempotence, skipLatency, skipConsume, siloHost, keepData, siloArg,
};
peer.SetAction((parse, _) => RunGuarded(() => PeerRun.RunAsync(
    new PeerOptions
    {
        Records = parse.GetValue(records),
        RecordSize = parse.GetValue(recordSize),
        Partitions = parse.GetValue(partitions),
        Producers = parse.GetValue(producers),
        Runs = parse.GetValue(runs),
        WarmupRecords = parse.GetValue(warmup),
        LingerMs = parse.GetValue(lingerMs),
        BatchSize = parse.GetValue(batchSize),
        LatencyFraction = parse.GetValue(latencyFraction),
        LatencyRate = parse.GetValue(latencyRate),
        LatencyLingerMs = parse.GetValue(latencyLinger),
        SkipNoIdempotence = parse.GetValue(skipNoIdempotence),
        SkipLatency = parse.GetValue(skipLatency),
        SkipConsume = parse.GetValue(skipConsume),
        SiloHost = parse.GetValue(siloHost),
        KeepData = parse.GetValue(keepData),
        SiloArgs = parse.GetValue(siloArg) ?? [],
    },
    interrupt.Token)));

var sizeBytes = new Option<long>("--size-bytes") { Description = "Log size to build, in bytes.", DefaultValueFactory = _ => 1L << 30 };
var reactivationProducers = new Option<int>("--producers") { Description = "Producers writing to the partition.", DefaultValueFactory = _ => 10_000 };
var recordsPerBatch = new Option<int>("--records-per-batch") { Description = "Records per batch.", DefaultValueFactory = _ => 100 };
var reactivationRecordSize = new Option<int>("--record-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 100 };
var segmentBytes = new Option<int>("--segment-bytes") { Description = "segment.bytes.", DefaultValueFactory = _ => 1 << 30 };
var tails = new Option<int[]>("--tail-mib") { Description = "Tails written after the last snapshot before a crash, in MiB (repeat).", DefaultValueFactory = _ => [16, 64, 256], AllowMultipleArgumentsPerToken = true };
var repeats = new Option<int>("--repeats") { Description = "Opens per case (median printed).", DefaultValueFactory = _ => 3 };
var directory = new Option<string?>("--dir") { Description = "Directory for the partition (default: a temp directory, deleted at the end)." };
var keep = new Option<bool>("--keep") { Description = "Keep the directory." };
var reactivation = new Command("reactivation", "T5: PartitionLog.OpenAsync time with a large log and many producers, with and without a recent snapshot.")
{
    sizeBytes, reactivationProducers, recordsPerBatch, reactivationRecordSize, segmentBytes, tails, repeats, directory, keep,
};
reactivation.SetAction((parse, _) => RunGuarded(() => ReactivationRun.RunAsync(
    new ReactivationOptions
    {
        SizeBytes = parse.GetValue(sizeBytes),
        Producers = parse.GetValue(reactivationProducers),
        RecordsPerBatch = parse.GetValue(recordsPerBatch),
        RecordSize = parse.GetValue(reactivationRecordSize),
        SegmentBytes = parse.GetValue(segmentBytes),
        TailsMiB = parse.GetValue(tails) ?? [],
        Repeats = parse.GetValue(repeats),
        Directory = parse.GetValue(directory),
        Keep = parse.GetValue(keep),
    },
    interrupt.Token)));

var totalBytes = new Option<long>("--total-bytes") { Description = "Bytes of record values to produce.", DefaultValueFactory = _ => 2L << 30 };
var memoryRecordSize = new Option<int>("--record-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 100 };
var memoryPartitions = new Option<int>("--partitions") { Description = "Partitions.", DefaultValueFactory = _ => 4 };
var memoryProducers = new Option<int>("--producers") { Description = "Producer instances.", DefaultValueFactory = _ => 1 };
var memory = new Command("memory", "T6: produce 2 GiB through the silo host and report the silo's RSS every second and its peak.")
{
    totalBytes, memoryRecordSize, memoryPartitions, memoryProducers, siloHost, keepData, siloArg,
};
memory.SetAction((parse, _) => RunGuarded(() => MemoryRun.RunAsync(
    new MemoryOptions
    {
        TotalBytes = parse.GetValue(totalBytes),
        RecordSize = parse.GetValue(memoryRecordSize),
        Partitions = parse.GetValue(memoryPartitions),
        Producers = parse.GetValue(memoryProducers),
        SiloHost = parse.GetValue(siloHost),
        KeepData = parse.GetValue(keepData),
        SiloArgs = parse.GetValue(siloArg) ?? [],
    },
    interrupt.Token)));

var root = new RootCommand("OrleansBroker benchmarks. 'micro [BenchmarkDotNet args]' runs the hot-path micro-benchmarks, e.g. micro --filter '*'.")
{
    peer, reactivation, memory,
};
return await root.Parse(args).InvokeAsync();

static async Task<int> RunGuarded(Func<Task<int>> run)
{
    try
    {
        return await run();
    }
    catch (OperationCanceledException)
    {
        await Console.Error.WriteLineAsync("interrupted");
        return 130;
    }
    finally
    {
        ChildProcesses.CleanUp();
    }
}
