using System.Text;
using System.Text.Json;

namespace OrleansBroker.Cli.Perf;

/// <summary>The silo's memory during a run, read from /proc.</summary>
/// <param name="Pid">Silo process id.</param>
/// <param name="PeakBytes">VmHWM at the end of the run, in bytes (null when unreadable).</param>
/// <param name="PeakSinceRunStart">True when VmHWM was reset at the start, so it is the peak of this run; else since the silo started.</param>
/// <param name="SampledPeakBytes">Highest VmRSS seen by 1 s sampling during the run, in bytes.</param>
internal sealed record SiloMemory(int Pid, long? PeakBytes, bool PeakSinceRunStart, long SampledPeakBytes)
{
    public static async Task<SiloMemory> FromSamplerAsync(int pid, RssSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        await sampler.DisposeAsync().ConfigureAwait(false);
        return new SiloMemory(pid, sampler.ReadPeak(), sampler.PeakWasReset, sampler.SampledPeak);
    }

    public string Describe() => PeakBytes is long peak
        ? FormattableString.Invariant($"silo pid {Pid}: peak RSS {peak / (1024.0 * 1024):F1} MiB ({(PeakSinceRunStart ? "this run" : "since the silo started")}), sampled peak {SampledPeakBytes / (1024.0 * 1024):F1} MiB")
        : FormattableString.Invariant($"silo pid {Pid}: memory not readable");
}

/// <summary>One-line JSON output of the perf commands (for scripts).</summary>
internal static class PerfJson
{
    public static string Produce(ProducePerfSettings s, string topic, ProducePerfResult r, SiloMemory? silo) => Write(w =>
    {
        w.WriteString("kind", "produce");
        w.WriteString("topic", topic);
        w.WriteNumber("records", r.Records);
        w.WriteNumber("recordSize", s.RecordSize);
        w.WriteNumber("partitions", r.Partitions);
        w.WriteNumber("producers", s.Producers);
        w.WriteBoolean("idempotence", s.Idempotence);
        if (s.Throughput is double t)
        {
            w.WriteNumber("throughputTarget", t);
        }
        else
        {
            w.WriteNull("throughputTarget");
        }

        w.WriteNumber("lingerMs", s.LingerMs);
        w.WriteBoolean("sendWhenIdle", s.SendWhenIdle);
        w.WriteNumber("batchSize", s.BatchSize);
        w.WriteNumber("acknowledged", r.Acknowledged);
        w.WriteNumber("failed", r.Failed);
        w.WriteNumber("duplicates", r.Duplicates);
        w.WriteNumber("elapsedMs", Math.Round(r.Elapsed.TotalMilliseconds, 1));
        w.WriteNumber("recordsPerSec", Math.Round(r.RecordsPerSecond, 1));
        w.WriteNumber("mbPerSec", Math.Round(r.MegabytesPerSecond, 2));
        WriteLatency(w, r.Latency);
        w.WriteNumber("clientAllocatedBytes", r.ClientAllocatedBytes);
        w.WriteNumber("clientAllocatedBytesPerRecord", Math.Round(r.ClientAllocatedBytes / (double)Math.Max(1, r.Records), 1));
        w.WriteNumber("clientGen0", r.ClientCollections.Gen0);
        w.WriteNumber("clientGen1", r.ClientCollections.Gen1);
        w.WriteNumber("clientGen2", r.ClientCollections.Gen2);
        w.WriteNumber("clientGcPauseMs", Math.Round(r.ClientGcPause.TotalMilliseconds, 1));
        WriteSilo(w, silo);
        if (r.FirstError is { } error)
        {
            w.WriteString("firstError", error);
        }
    });

    public static string Consume(string topic, ConsumePerfResult r, SiloMemory? silo) => Write(w =>
    {
        w.WriteString("kind", "consume");
        w.WriteString("topic", topic);
        w.WriteNumber("records", r.Records);
        w.WriteNumber("bytes", r.Bytes);
        w.WriteNumber("partitions", r.Partitions);
        w.WriteNumber("elapsedMs", Math.Round(r.Elapsed.TotalMilliseconds, 1));
        w.WriteNumber("recordsPerSec", Math.Round(r.RecordsPerSecond, 1));
        w.WriteNumber("mbPerSec", Math.Round(r.MegabytesPerSecond, 2));
        w.WriteBoolean("timedOut", r.TimedOut);
        w.WriteNumber("clientAllocatedBytes", r.ClientAllocatedBytes);
        WriteSilo(w, silo);
    });

    public static void WriteLatency(Utf8JsonWriter w, LatencySummary l)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject("latencyMs");
        w.WriteNumber("count", l.Count);
        w.WriteNumber("mean", Math.Round(l.MeanMs, 3));
        w.WriteNumber("p50", Math.Round(l.P50Ms, 3));
        w.WriteNumber("p99", Math.Round(l.P99Ms, 3));
        w.WriteNumber("p999", Math.Round(l.P999Ms, 3));
        w.WriteNumber("max", Math.Round(l.MaxMs, 3));
        w.WriteEndObject();
    }

    public static string Write(Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteSilo(Utf8JsonWriter w, SiloMemory? silo)
    {
        if (silo is null)
        {
            return;
        }

        w.WriteStartObject("silo");
        w.WriteNumber("pid", silo.Pid);
        if (silo.PeakBytes is long peak)
        {
            w.WriteNumber("peakRssBytes", peak);
        }
        else
        {
            w.WriteNull("peakRssBytes");
        }

        w.WriteBoolean("peakSinceRunStart", silo.PeakSinceRunStart);
        w.WriteNumber("sampledPeakRssBytes", silo.SampledPeakBytes);
        w.WriteEndObject();
    }
}
