using System.Globalization;
using System.Text;

namespace OrleansBroker.ClusterTests.Faults.Workload;

/// <summary>One discrete fault of a run: what, when (a fraction of the run, by records sent or by time), and its seeded choices.</summary>
/// <param name="At">When, as a fraction of the run in [0, 1).</param>
/// <param name="Kind">The fault (a discrete kind).</param>
/// <param name="Partition">The partition it targets (storage faults, deactivation, torn tail; a partition to pin on the victim silo).</param>
/// <param name="Producer">The producer it targets (<see cref="FaultKind.ProducerRestart"/>).</param>
/// <param name="Count">How many appends fail (<see cref="FaultKind.StorageFailBeforeWrite"/>, <see cref="FaultKind.StorageFailAfterWrite"/>,
/// <see cref="FaultKind.DiskFull"/>).</param>
public sealed record FaultEvent(double At, FaultKind Kind, int Partition, int Producer, int Count)
{
    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{At:P0} {Kind} (partition {Partition}, producer {Producer}, count {Count})");
}

/// <summary>
/// The seeded fault plan of a run: which continuous faults are on, and the discrete events in order. The same seed and options give the
/// same schedule (the thread interleaving of a run is not fixed, so the outcome of each call is not; the checker must pass for all).
/// </summary>
public sealed class FaultSchedule
{
    private FaultSchedule(int seed, IReadOnlyList<FaultKind> continuous, IReadOnlyList<FaultEvent> events)
    {
        Seed = seed;
        Continuous = continuous;
        Events = events;
    }

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>The continuous faults on during the whole run.</summary>
    public IReadOnlyList<FaultKind> Continuous { get; }

    /// <summary>The discrete events, ordered by <see cref="FaultEvent.At"/>.</summary>
    public IReadOnlyList<FaultEvent> Events { get; }

    /// <summary>Builds the schedule of <paramref name="options"/>.</summary>
    /// <param name="options">The run's options.</param>
    /// <returns>The schedule.</returns>
    public static FaultSchedule Create(FaultWorkloadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var random = new Random(options.Seed);
        FaultKind[] continuous = [.. options.Faults.Distinct().Where(k => k.IsContinuous()).Order()];
        FaultKind[] discrete = [.. options.Faults.Distinct().Where(k => !k.IsContinuous()).Order()];
        int count = discrete.Length == 0 ? 0 : options.Events ?? discrete.Length;

        // Every enabled kind at least once (in a seeded order), then seeded draws.
        var kinds = new List<FaultKind>(count);
        FaultKind[] shuffled = [.. discrete];
        random.Shuffle(shuffled);
        for (int i = 0; i < count; i++)
        {
            kinds.Add(i < shuffled.Length ? shuffled[i] : discrete[random.Next(discrete.Length)]);
        }

        var events = new List<FaultEvent>(count);
        for (int i = 0; i < count; i++)
        {
            double slot = 0.75 / Math.Max(1, count);
            double at = 0.10 + (i * slot) + (random.NextDouble() * slot * 0.5);
            FaultKind kind = kinds[i];
            int stormCount = kind switch
            {
                FaultKind.StorageFailBeforeWrite => 1 + random.Next(3),
                FaultKind.StorageFailAfterWrite => 1 + random.Next(2),
                FaultKind.DiskFull => 2 + random.Next(3),
                _ => 1,
            };
            events.Add(new FaultEvent(at, kind, random.Next(options.Partitions), random.Next(options.Producers), stormCount));
        }

        return new FaultSchedule(options.Seed, continuous, events);
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {Seed}; continuous: {(Continuous.Count == 0 ? "none" : string.Join(", ", Continuous))}\n");
        foreach (FaultEvent e in Events)
        {
            text.Append("  ").Append(e).Append('\n');
        }

        return text.ToString();
    }
}
