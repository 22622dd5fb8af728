using System.Diagnostics;

namespace OrleansBroker.Cli.Perf;

/// <summary>
/// Per-record acknowledgement latency without per-record allocation: one preallocated <see cref="long"/> slot per record holds the
/// send timestamp (<see cref="Stopwatch.GetTimestamp"/>) and is overwritten with the latency in ticks when the acknowledgement arrives.
/// Percentiles are exact (the slots are sorted once at the end). Memory: 8 bytes per record.
/// </summary>
/// <remarks>
/// Records are addressed by a global index; each producer owns a disjoint range, writes send times from its pump thread and latencies from
/// its delivery callback. A slot is written by the pump before the record is handed to the producer and read by the callback after the
/// producer reported it, so the producer's own synchronisation orders the two.
/// </remarks>
internal sealed class LatencyRecorder
{
    private const long Failed = long.MinValue;
    private const long Missing = long.MaxValue;

    private readonly long[] _slots;

    public LatencyRecorder(long records)
    {
        if (records > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(records), $"At most {Array.MaxLength} records can be timed in one run.");
        }

        _slots = new long[records];
        Array.Fill(_slots, Missing);
    }

    /// <summary>Records the send time of record <paramref name="index"/>.</summary>
    public void Sent(long index) => _slots[index] = Stopwatch.GetTimestamp();

    /// <summary>Records the acknowledgement (or failure) of record <paramref name="index"/>.</summary>
    public void Acknowledged(long index, long now, bool success) => _slots[index] = success ? now - _slots[index] : Failed;

    /// <summary>Sorts the slots and summarises the acknowledged ones.</summary>
    public LatencySummary Summarize()
    {
        Array.Sort(_slots);
        int first = 0;
        while (first < _slots.Length && _slots[first] == Failed)
        {
            first++;
        }

        int end = _slots.Length;
        while (end > first && _slots[end - 1] == Missing)
        {
            end--;
        }

        int count = end - first;
        if (count == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0, 0, 0);
        }

        double sum = 0;
        for (int i = first; i < end; i++)
        {
            sum += _slots[i];
        }

        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        double At(double quantile) => Ms(_slots[first + Math.Min(count - 1, (int)Math.Ceiling(quantile * count) - 1)]);
        return new LatencySummary(count, Ms((long)(sum / count)), At(0.50), At(0.99), At(0.999), Ms(_slots[end - 1]), Ms(_slots[first]));
    }
}

/// <summary>Acknowledgement latency, in ms, over <paramref name="Count"/> acknowledged records.</summary>
internal readonly record struct LatencySummary(long Count, double MeanMs, double P50Ms, double P99Ms, double P999Ms, double MaxMs, double MinMs);
