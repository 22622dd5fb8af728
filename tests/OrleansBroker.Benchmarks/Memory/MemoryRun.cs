using System.Globalization;
using OrleansBroker.Benchmarks.Peer;
using OrleansBroker.Cli.Perf;
using OrleansBroker.Client;

namespace OrleansBroker.Benchmarks.Memory;

/// <summary>Options of the T6 run.</summary>
internal sealed record MemoryOptions
{
    public long TotalBytes { get; init; } = 2L << 30;

    public int RecordSize { get; init; } = 100;

    public int Partitions { get; init; } = 4;

    public int Producers { get; init; } = 1;

    public string? SiloHost { get; init; }

    public bool KeepData { get; init; }

    public IReadOnlyList<string> SiloArgs { get; init; } = [];
}

/// <summary>
/// T6: produce a total of <see cref="MemoryOptions.TotalBytes"/> of record values through the silo host (separate process), sampling the
/// silo's resident memory (VmRSS, /proc) every second, and print the samples, the peak (VmHWM) and whether memory stayed flat: the log
/// goes to disk, so the silo's RSS must not grow with the bytes written.
/// </summary>
internal static class MemoryRun
{
    public static async Task<int> RunAsync(MemoryOptions o, CancellationToken cancellationToken)
    {
        string siloHost = SiloProcess.FindSiloHost(o.SiloHost);
        long records = o.TotalBytes / Math.Max(1, o.RecordSize);
        Console.WriteLine(Invariant($"T6 memory: {o.TotalBytes / (1024.0 * 1024 * 1024):F2} GiB as {records:N0} records x {o.RecordSize} B, {o.Partitions} partitions; load {ChildProcesses.LoadAverage()}"));
        await using SiloProcess silo = await SiloProcess.StartAsync(siloHost, o.KeepData, o.SiloArgs, cancellationToken);
        await using BrokerClient client = await silo.ConnectAsync(cancellationToken);
        string topic = "perf-memory-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        await client.Admin.CreateTopicAsync(topic, o.Partitions, null, cancellationToken);

        long? rssBefore = ProcessMemory.ReadRss(silo.Process.Id);
        var sampler = new RssSampler(silo.Process.Id, TimeSpan.FromSeconds(1), TimeProvider.System);
        var settings = new ProducePerfSettings(topic, records, o.RecordSize, o.Producers, Idempotence: true, Throughput: null, LingerMs: 5, BatchSize: ProducerOptions.DefaultBatchSize);
        ProducePerfResult result = await ProducePerf.RunAsync(client, settings, o.Partitions, TimeProvider.System, cancellationToken);
        SiloMemory memory = await SiloMemory.FromSamplerAsync(silo.Process.Id, sampler);
        IReadOnlyList<(TimeSpan At, long Rss)> samples = sampler.Samples;

        Console.WriteLine(ProducePerf.Describe(result));
        Console.WriteLine("RSS samples (s: MiB): " + string.Join(", ", samples.Select(s => Invariant($"{s.At.TotalSeconds:F0}: {s.Rss / (1024.0 * 1024):F0}"))));
        long first = samples.Count > 0 ? samples[0].Rss : 0;
        long[] secondHalf = [.. samples.Skip(samples.Count / 2).Select(s => s.Rss)];
        long[] firstHalf = [.. samples.Take(samples.Count / 2).Select(s => s.Rss)];
        double growth = firstHalf.Length > 0 && secondHalf.Length > 0 ? (secondHalf.Max() - firstHalf.Max()) / (1024.0 * 1024) : double.NaN;
        Console.WriteLine(Invariant($"Silo RSS before the run {rssBefore / (1024.0 * 1024):F0} MiB, at the first sample {first / (1024.0 * 1024):F0} MiB; {memory.Describe()}"));
        Console.WriteLine(Invariant($"Peak of the second half minus peak of the first half: {growth:F0} MiB (flat: close to 0 while {result.ValueBytes / (1024.0 * 1024):N0} MiB were written)"));
        Console.WriteLine(PerfJson.Write(w =>
        {
            w.WriteString("kind", "memory");
            w.WriteNumber("totalBytes", result.ValueBytes);
            w.WriteNumber("records", result.Acknowledged);
            w.WriteNumber("recordsPerSec", Math.Round(result.RecordsPerSecond, 1));
            w.WriteNumber("siloRssBeforeBytes", rssBefore ?? -1);
            w.WriteNumber("siloPeakRssBytes", memory.PeakBytes ?? -1);
            w.WriteNumber("siloSampledPeakRssBytes", memory.SampledPeakBytes);
            w.WriteNumber("secondHalfMinusFirstHalfMiB", Math.Round(growth, 1));
            w.WriteStartArray("rssSamplesMiB");
            foreach ((TimeSpan _, long rss) in samples)
            {
                w.WriteNumberValue(Math.Round(rss / (1024.0 * 1024), 1));
            }

            w.WriteEndArray();
        }));
        return result.Failed == 0 ? 0 : 1;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
