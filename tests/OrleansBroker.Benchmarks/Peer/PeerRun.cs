using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using OrleansBroker.Cli.Perf;
using OrleansBroker.Client;

namespace OrleansBroker.Benchmarks.Peer;

/// <summary>Options of the side-by-side run.</summary>
internal sealed record PeerOptions
{
    public long Records { get; init; } = 1_000_000;

    public int RecordSize { get; init; } = 100;

    public int Partitions { get; init; } = 4;

    public int Producers { get; init; } = 1;

    public int Runs { get; init; } = 3;

    public long WarmupRecords { get; init; } = 2_000_000;

    public int LingerMs { get; init; } = 5;

    public int BatchSize { get; init; } = 1_048_576;

    public double LatencyFraction { get; init; } = 0.5;

    public double? LatencyRate { get; init; }

    public int? LatencyLingerMs { get; init; }

    public bool SkipNoIdempotence { get; init; }

    public bool SkipLatency { get; init; }

    public bool SkipConsume { get; init; }

    public string? SiloHost { get; init; }

    public bool KeepData { get; init; }

    public IReadOnlyList<string> SiloArgs { get; init; } = [];
}

/// <summary>One measured run of one side.</summary>
internal sealed record RunFigures(string Workload, string Side, int Run, double RecordsPerSecond, double MegabytesPerSecond, LatencySummary? Latency, TimeSpan Elapsed, TimeSpan ClientCpu, TimeSpan BrokerCpu, long ClientAllocatedBytes, string Line);

/// <summary>
/// The side-by-side run: librdkafka's mock cluster (separate process, see <see cref="MockBroker"/>) driven by Confluent.Kafka, and our
/// silo host (separate process) driven by our SDK, in this process, alternating runs. Workloads: T1 (idempotent produce at full speed),
/// T2 (idempotence off), T3 (idempotent produce at a fixed rate: a fraction of our T1 median, the same rate for both), T4 (consume T1's
/// topic from the beginning). Each run writes to a fresh topic. A warm-up of every workload per side comes first and is not counted;
/// rounds alternate which side goes first and whether T1 or T2 comes first.
/// </summary>
internal static class PeerRun
{
    private const string Peer = "peer";
    private const string Ours = "ours";

    public static async Task<int> RunAsync(PeerOptions o, CancellationToken cancellationToken)
    {
        string siloHost = SiloProcess.FindSiloHost(o.SiloHost);
        string loadAtStart = ChildProcesses.LoadAverage();
        Console.WriteLine(ChildProcesses.Invariant($"Side-by-side: {o.Records:N0} records x {o.RecordSize} B, {o.Partitions} partitions, {o.Producers} producer(s), {o.Runs} runs; linger.ms {o.LingerMs}, batch.size {o.BatchSize}; {Environment.ProcessorCount} cores; load {loadAtStart}"));
        Console.WriteLine($"Silo host: {siloHost}");

        await using MockBrokerProcess mock = await MockBrokerProcess.StartAsync(cancellationToken);
        Console.WriteLine($"Peer: librdkafka {Confluent.Kafka.Library.VersionString} mock cluster, pid {mock.Process.Id}, at {mock.BootstrapServers}");
        await using SiloProcess silo = await SiloProcess.StartAsync(siloHost, o.KeepData, o.SiloArgs, cancellationToken);
        Console.WriteLine($"Ours: silo host pid {silo.Process.Id}, gateway 127.0.0.1:{silo.GatewayPort}, data {silo.Directory}");
        await using BrokerClient client = await silo.ConnectAsync(cancellationToken);
        var siloMemory = new RssSampler(silo.Process.Id, TimeSpan.FromSeconds(1), TimeProvider.System);
        var figures = new List<RunFigures>();
        int topicCounter = 0;
        string NewTopic(string side, string workload) => ChildProcesses.Invariant($"perf-{side}-{workload}-{Environment.ProcessId}-{++topicCounter}");

        async Task<(ProducePerfResult Result, string Topic)> ProduceOnce(string side, string workload, int run, bool idempotence, double? rate, long records, int? lingerMs = null)
        {
            string topic = NewTopic(side, workload);
            var settings = new ProducePerfSettings(topic, records, o.RecordSize, o.Producers, idempotence, rate, lingerMs ?? o.LingerMs, o.BatchSize);
            Process broker = side == Peer ? mock.Process : silo.Process;
            if (side == Peer)
            {
                await mock.CreateTopicAsync(topic, o.Partitions, cancellationToken);
            }
            else
            {
                await client.Admin.CreateTopicAsync(topic, o.Partitions, null, cancellationToken);
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            TimeSpan clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            TimeSpan brokerCpu0 = ChildProcesses.CpuTime(broker);
            ProducePerfResult r = side == Peer
                ? await KafkaPeer.ProduceAsync(mock.BootstrapServers, settings, o.Partitions, cancellationToken)
                : await ProducePerf.RunAsync(client, settings, o.Partitions, TimeProvider.System, cancellationToken);
            TimeSpan clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu0;
            TimeSpan brokerCpu = ChildProcesses.CpuTime(broker) - brokerCpu0;
            if (r.Failed > 0 || r.Acknowledged != records)
            {
                throw new InvalidOperationException($"{side} {workload} run {run}: {r.Acknowledged} of {records} acknowledged, {r.Failed} failed: {r.FirstError}");
            }

            string batchInfo = string.Empty;
            if (side == Ours)
            {
                (long batches, long bytes) = silo.CountBatches(topic);
                batchInfo = ChildProcesses.Invariant($" batches {batches:N0} (avg {records / (double)Math.Max(1, batches):F0} records, {bytes / (double)Math.Max(1, batches) / 1024:F0} KiB);");
            }
            else if (KafkaPeer.LastBatchStatistics is { } stats)
            {
                batchInfo = " " + stats + ";";
            }

            if (run > 0)
            {
                string line = ProducePerf.Describe(r) + batchInfo;
                figures.Add(new RunFigures(workload, side, run, r.RecordsPerSecond, r.MegabytesPerSecond, r.Latency, r.Elapsed, clientCpu, brokerCpu, r.ClientAllocatedBytes, line));
                Console.WriteLine(ChildProcesses.Invariant($"  {workload} {side,-4} run {run}: {line} CPU client {clientCpu.TotalSeconds:F2} s, broker {brokerCpu.TotalSeconds:F2} s; client alloc {r.ClientAllocatedBytes / (double)records:F0} B/record, GC {r.ClientCollections.Gen0}/{r.ClientCollections.Gen1}/{r.ClientCollections.Gen2} (gen0/1/2) pausing {r.ClientGcPause.TotalMilliseconds:F1} ms; load {ChildProcesses.LoadAverage()}"));
            }

            return (r, topic);
        }

        async Task ConsumeOnce(string side, string topic, int run, long records)
        {
            Process broker = side == Peer ? mock.Process : silo.Process;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TimeSpan clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            TimeSpan brokerCpu0 = ChildProcesses.CpuTime(broker);
            ConsumePerfResult r = side == Peer
                ? await Task.Run(() => KafkaPeer.Consume(mock.BootstrapServers, topic, o.Partitions, records, TimeSpan.FromSeconds(30), cancellationToken), cancellationToken)
                : await ConsumePerf.RunAsync(client, topic, records, ConsumerOptions.Default.MaxPartitionFetchBytes, TimeSpan.FromSeconds(30), cancellationToken);
            TimeSpan clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu0;
            TimeSpan brokerCpu = ChildProcesses.CpuTime(broker) - brokerCpu0;
            if (side == Ours ? r.Records != records : r.Records == 0 || (r.TimedOut && r.Records < records && r.Elapsed == TimeSpan.Zero))
            {
                throw new InvalidOperationException($"{side} consume run {run}: {r.Records} of {records} records arrived.");
            }

            if (run > 0)
            {
                string line = ConsumePerf.Describe(r with { TimedOut = false }) + (side == Peer && r.Records < records ? " (all the mock cluster retains: 5 MiB per partition)" : "");
                figures.Add(new RunFigures("T4", side, run, r.RecordsPerSecond, r.MegabytesPerSecond, null, r.Elapsed, clientCpu, brokerCpu, r.ClientAllocatedBytes, line));
                Console.WriteLine(ChildProcesses.Invariant($"  T4 {side,-4} run {run}: {line} CPU client {clientCpu.TotalSeconds:F2} s, broker {brokerCpu.TotalSeconds:F2} s; load {ChildProcesses.LoadAverage()}"));
            }
        }

        // Warm-up (JIT tiering of the silo and of both clients, connections): every workload once per side, not counted.
        Console.WriteLine("Warm-up (not counted)...");
        foreach (string side in (string[])[Peer, Ours])
        {
            (_, string topic) = await ProduceOnce(side, "warmup", 0, idempotence: true, null, o.WarmupRecords);
            _ = await ProduceOnce(side, "warmup", 0, idempotence: false, null, o.WarmupRecords);
            // Until a pass compiles nothing new (at most 5): after one pass the consume path's hot methods were still at tier 0 (the
            // runtime promotes them in the background after its call-counting delay), and the first measured consume ran at ~0.6 of
            // the others with twice their client CPU; with DOTNET_TC_CallCountingDelayMs=0 it did not.
            int passes = 0;
            long compiled;
            do
            {
                compiled = JitInfo.GetCompiledMethodCount();
                await ConsumeOnce(side, topic, 0, o.WarmupRecords);
                passes++;
            }
            while (passes < 5 && JitInfo.GetCompiledMethodCount() != compiled);

            Console.WriteLine(JitInfo.GetCompiledMethodCount() == compiled
                ? $"  {side}: consume warm-up: {passes} passes, the last compiled nothing new"
                : $"  {side}: consume warm-up: {passes} passes, the cap (the runtime still compiled a few methods in the last)");
        }

        for (int run = 1; run <= o.Runs; run++)
        {
            // Alternate which side goes first, so neither always runs on a warmer (or more loaded) machine.
            string[] order = run % 2 == 1 ? [Peer, Ours] : [Ours, Peer];
            var t1Topics = new Dictionary<string, string>();

            // T1 and T2 swap places every round too, so neither always follows the other.
            bool t2First = !o.SkipNoIdempotence && run % 2 == 0;
            if (t2First)
            {
                foreach (string side in order)
                {
                    await ProduceOnce(side, "T2", run, idempotence: false, null, o.Records);
                }
            }

            foreach (string side in order)
            {
                (_, t1Topics[side]) = await ProduceOnce(side, "T1", run, idempotence: true, null, o.Records);
            }

            if (!o.SkipNoIdempotence && !t2First)
            {
                foreach (string side in order)
                {
                    await ProduceOnce(side, "T2", run, idempotence: false, null, o.Records);
                }
            }

            if (!o.SkipConsume)
            {
                foreach (string side in order)
                {
                    await ConsumeOnce(side, t1Topics[side], run, o.Records);
                }
            }
        }

        double? latencyRate = null;
        if (!o.SkipLatency)
        {
            latencyRate = o.LatencyRate ?? Math.Round(o.LatencyFraction * Median(figures, "T1", Ours, f => f.RecordsPerSecond));
            Console.WriteLine(ChildProcesses.Invariant($"T3: fixed rate {latencyRate:F0} records/s ({o.LatencyFraction:P0} of our T1 median) for both sides, linger.ms {o.LatencyLingerMs ?? o.LingerMs}"));

            // The paced workload takes code paths the full-rate warm-up does not (the pacer's timer waits; in the clients, sends on an idle
            // partition, linger timers): one uncounted paced run per side first, as every other workload had.
            foreach (string side in (string[])[Peer, Ours])
            {
                _ = await ProduceOnce(side, "warmup", 0, idempotence: true, latencyRate, o.Records, o.LatencyLingerMs);
            }

            for (int run = 1; run <= o.Runs; run++)
            {
                string[] order = run % 2 == 1 ? [Peer, Ours] : [Ours, Peer];
                foreach (string side in order)
                {
                    await ProduceOnce(side, "T3", run, idempotence: true, latencyRate, o.Records, o.LatencyLingerMs);
                }
            }
        }

        SiloMemory memory = await SiloMemory.FromSamplerAsync(silo.Process.Id, siloMemory);
        string loadAtEnd = ChildProcesses.LoadAverage();
        Console.WriteLine();
        PrintSummary(o, figures, latencyRate, memory, loadAtStart, loadAtEnd);
        Console.WriteLine(SummaryJson(o, figures, latencyRate, memory, loadAtStart, loadAtEnd));
        return 0;
    }

    private static double Median(List<RunFigures> figures, string workload, string side, Func<RunFigures, double> value)
    {
        double[] values = [.. figures.Where(f => f.Workload == workload && f.Side == side).Select(value).Order()];
        if (values.Length == 0)
        {
            return double.NaN;
        }

        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    private static void PrintSummary(PeerOptions o, List<RunFigures> f, double? latencyRate, SiloMemory memory, string loadAtStart, string loadAtEnd)
    {
        static string N(double v) => double.IsNaN(v) ? "-" : v.ToString("N0", CultureInfo.InvariantCulture);
        static string Ms(double v) => double.IsNaN(v) ? "-" : v.ToString("F2", CultureInfo.InvariantCulture);
        static string R(double v) => double.IsNaN(v) ? "-" : v.ToString("F2", CultureInfo.InvariantCulture);

        double t1Ours = Median(f, "T1", Ours, x => x.RecordsPerSecond);
        double t1Peer = Median(f, "T1", Peer, x => x.RecordsPerSecond);
        double t2Ours = Median(f, "T2", Ours, x => x.RecordsPerSecond);
        double t2Peer = Median(f, "T2", Peer, x => x.RecordsPerSecond);
        double t4Ours = Median(f, "T4", Ours, x => x.RecordsPerSecond);
        double t4Peer = Median(f, "T4", Peer, x => x.RecordsPerSecond);
        double p99Ours = Median(f, "T3", Ours, x => x.Latency?.P99Ms ?? double.NaN);
        double p99Peer = Median(f, "T3", Peer, x => x.Latency?.P99Ms ?? double.NaN);
        double p999Ours = Median(f, "T3", Ours, x => x.Latency?.P999Ms ?? double.NaN);
        double p999Peer = Median(f, "T3", Peer, x => x.Latency?.P999Ms ?? double.NaN);
        double maxOurs = Median(f, "T3", Ours, x => x.Latency?.MaxMs ?? double.NaN);
        double maxPeer = Median(f, "T3", Peer, x => x.Latency?.MaxMs ?? double.NaN);

        Console.WriteLine(ChildProcesses.Invariant($"Medians of {o.Runs} runs ({o.Records:N0} x {o.RecordSize} B, {o.Partitions} partitions, {o.Producers} producer(s)); load average {loadAtStart} at start, {loadAtEnd} at end"));
        Console.WriteLine("| #  | workload                          | ours (median)        | peer (median)        | ours/peer | target                         |");
        Console.WriteLine("|----|-----------------------------------|----------------------|----------------------|-----------|--------------------------------|");
        Console.WriteLine($"| T1 | produce, idempotent, max rate     | {N(t1Ours),12} rec/s   | {N(t1Peer),12} rec/s   | {R(t1Ours / t1Peer),9} | ours/peer >= 1.0               |");
        Console.WriteLine($"| T2 | produce, idempotence off          | {N(t2Ours),12} rec/s   | {N(t2Peer),12} rec/s   | {R(t2Ours / t2Peer),9} | T1/T2 (ours) = {R(t1Ours / t2Ours),-5} >= 0.95  |");
        Console.WriteLine($"| T3 | p99 at {N(latencyRate ?? double.NaN),9} rec/s, linger {o.LatencyLingerMs ?? o.LingerMs} | {Ms(p99Ours),12} ms      | {Ms(p99Peer),12} ms      | {R(p99Ours / p99Peer),9} | p99 <= 5 ms                    |");
        Console.WriteLine($"| T3 | p99.9                             | {Ms(p999Ours),12} ms      | {Ms(p999Peer),12} ms      | {R(p999Ours / p999Peer),9} | p99.9 <= 20 ms                 |");
        Console.WriteLine($"| T3 | max                               | {Ms(maxOurs),12} ms      | {Ms(maxPeer),12} ms      | {R(maxOurs / maxPeer),9} |                                |");
        Console.WriteLine($"| T4 | consume T1's topic from the start | {N(t4Ours),12} rec/s   | {N(t4Peer),12} rec/s   | {R(t4Ours / t4Peer),9} | ours T4/T1 = {R(t4Ours / t1Ours),-5} >= 1.0     |");
        Console.WriteLine(memory.Describe() + " over the whole side-by-side run");
    }

    private static string SummaryJson(PeerOptions o, List<RunFigures> f, double? latencyRate, SiloMemory memory, string loadAtStart, string loadAtEnd) => PerfJson.Write(w =>
    {
        w.WriteString("kind", "peer");
        w.WriteNumber("records", o.Records);
        w.WriteNumber("recordSize", o.RecordSize);
        w.WriteNumber("partitions", o.Partitions);
        w.WriteNumber("producers", o.Producers);
        w.WriteNumber("runs", o.Runs);
        w.WriteNumber("cores", Environment.ProcessorCount);
        w.WriteString("loadAtStart", loadAtStart);
        w.WriteString("loadAtEnd", loadAtEnd);
        if (latencyRate is double rate)
        {
            w.WriteNumber("t3Rate", rate);
        }

        foreach (string workload in (string[])["T1", "T2", "T3", "T4"])
        {
            if (!f.Any(x => x.Workload == workload))
            {
                continue;
            }

            w.WriteStartObject(workload);
            foreach (string side in (string[])[Ours, Peer])
            {
                w.WriteStartObject(side);
                w.WriteNumber("medianRecordsPerSec", Math.Round(Median(f, workload, side, x => x.RecordsPerSecond), 1));
                w.WriteNumber("medianMbPerSec", Math.Round(Median(f, workload, side, x => x.MegabytesPerSecond), 2));
                if (workload != "T4")
                {
                    w.WriteNumber("medianP50Ms", Math.Round(Median(f, workload, side, x => x.Latency?.P50Ms ?? 0), 3));
                    w.WriteNumber("medianP99Ms", Math.Round(Median(f, workload, side, x => x.Latency?.P99Ms ?? 0), 3));
                    w.WriteNumber("medianP999Ms", Math.Round(Median(f, workload, side, x => x.Latency?.P999Ms ?? 0), 3));
                    w.WriteNumber("medianMaxMs", Math.Round(Median(f, workload, side, x => x.Latency?.MaxMs ?? 0), 3));
                }

                w.WriteNumber("medianClientCpuSec", Math.Round(Median(f, workload, side, x => x.ClientCpu.TotalSeconds), 3));
                w.WriteNumber("medianBrokerCpuSec", Math.Round(Median(f, workload, side, x => x.BrokerCpu.TotalSeconds), 3));
                w.WriteStartArray("recordsPerSec");
                foreach (RunFigures x in f.Where(x => x.Workload == workload && x.Side == side).OrderBy(x => x.Run))
                {
                    w.WriteNumberValue(Math.Round(x.RecordsPerSecond, 1));
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteNumber("ratioOursToPeer", Math.Round(Median(f, workload, Ours, x => x.RecordsPerSecond) / Median(f, workload, Peer, x => x.RecordsPerSecond), 3));
            w.WriteEndObject();
        }

        w.WriteStartObject("siloMemory");
        w.WriteNumber("peakRssBytes", memory.PeakBytes ?? -1);
        w.WriteNumber("sampledPeakRssBytes", memory.SampledPeakBytes);
        w.WriteEndObject();
    });
}
