using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansBroker.Testing;

/// <summary>One example of an anomaly, for the report.</summary>
/// <param name="RecordId">The record id, or null for a stored record whose id could not be parsed.</param>
/// <param name="Position">The position concerned: the acknowledged position for <see cref="AnomalyKind.Lost"/> and
/// <see cref="AnomalyKind.WrongOffset"/>, the first stored copy for <see cref="AnomalyKind.Duplicate"/>, the stored
/// position for <see cref="AnomalyKind.Reordered"/>, <see cref="AnomalyKind.Phantom"/> and
/// <see cref="AnomalyKind.FailedButStored"/>; null when there is none.</param>
/// <param name="Detail">What was expected and what was found, in words.</param>
public sealed record AnomalyExample(string? RecordId, LogPosition? Position, string Detail)
{
    /// <summary>Formats the example as <c>id @ topic/partition@offset: detail</c>.</summary>
    /// <returns>One line of text.</returns>
    public override string ToString() =>
        $"{RecordId ?? "(no id)"}{(Position is { } p ? " @ " + p.ToString() : string.Empty)}: {Detail}";
}

/// <summary>The count and the first examples of one anomaly kind.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Count">How many (see <see cref="AnomalyKind"/> for what one counts).</param>
/// <param name="Examples">The first examples found, in producer-name and send order (phantoms in readback order).</param>
public sealed record AnomalySummary(AnomalyKind Kind, int Count, IReadOnlyList<AnomalyExample> Examples);

/// <summary>What <see cref="HistoryChecker.Check"/> found: figures for the run and the anomalies by kind.</summary>
public sealed class CheckReport
{
    private readonly AnomalySummary[] _anomalies;

    internal CheckReport(RunFigures figures, AnomalySummary[] anomalies)
    {
        Sent = figures.Sent;
        Acknowledged = figures.Acknowledged;
        DuplicatesAcknowledged = figures.DuplicatesAcknowledged;
        Failed = figures.Failed;
        PossiblyPersistedStored = figures.PossiblyPersistedStored;
        PossiblyPersistedAbsent = figures.PossiblyPersistedAbsent;
        Observed = figures.Observed;
        _anomalies = anomalies;
    }

    /// <summary>Gets the records sent (distinct ids).</summary>
    public int Sent { get; }

    /// <summary>Gets the records acknowledged (first outcome), duplicates included.</summary>
    public int Acknowledged { get; }

    /// <summary>Gets the acknowledgements that said duplicate (the broker had the batch already).</summary>
    public int DuplicatesAcknowledged { get; }

    /// <summary>Gets the records failed for good (first outcome).</summary>
    public int Failed { get; }

    /// <summary>Gets the records failed with possiblyPersisted true that are in the log (allowed).</summary>
    public int PossiblyPersistedStored { get; }

    /// <summary>Gets the records failed with possiblyPersisted true that are not in the log.</summary>
    public int PossiblyPersistedAbsent { get; }

    /// <summary>Gets the records read back from the log.</summary>
    public int Observed { get; }

    /// <summary>Gets every anomaly kind in <see cref="AnomalyKind"/> order, zero counts included.</summary>
    public IReadOnlyList<AnomalySummary> Anomalies => _anomalies;

    /// <summary>Gets the sum of all anomaly counts.</summary>
    public int TotalAnomalies => _anomalies.Sum(a => a.Count);

    /// <summary>Gets a value indicating whether any anomaly was found.</summary>
    public bool HasAnomalies => _anomalies.Any(a => a.Count > 0);

    /// <summary>Gets the process exit code a command should return: 0 when clean, 1 on any anomaly.</summary>
    public int ExitCode => HasAnomalies ? 1 : 0;

    /// <summary>Returns the count of one anomaly kind.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The count (0 when none).</returns>
    public int Count(AnomalyKind kind) => Summary(kind).Count;

    /// <summary>Returns the first examples of one anomaly kind.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>Up to the checker's example limit; empty when none.</returns>
    public IReadOnlyList<AnomalyExample> Examples(AnomalyKind kind) => Summary(kind).Examples;

    /// <summary>
    /// Formats the report as a fixed-width table with columns <c>kind | count | examples</c>: one row per anomaly kind
    /// (zero rows included, further examples on continuation rows), then a separator and the run's figures. The kind
    /// and count columns are padded to their widest entry; lines carry no trailing spaces.
    /// </summary>
    /// <returns>The table, lines separated by <c>\n</c>, ending with a newline.</returns>
    public string ToTable()
    {
        var rows = new List<(string Kind, string Count, string Example)>();
        foreach (var summary in _anomalies)
        {
            var count = summary.Count.ToString(CultureInfo.InvariantCulture);
            if (summary.Examples.Count == 0)
            {
                rows.Add((summary.Kind.ToString(), count, string.Empty));
                continue;
            }

            for (var i = 0; i < summary.Examples.Count; i++)
            {
                rows.Add((i == 0 ? summary.Kind.ToString() : string.Empty, i == 0 ? count : string.Empty, summary.Examples[i].ToString()));
            }
        }

        var figures = Figures().Select(f => (f.Name, f.Value.ToString(CultureInfo.InvariantCulture), string.Empty)).ToList();
        var kindWidth = rows.Concat(figures).Max(r => r.Item1.Length);
        var countWidth = Math.Max("count".Length, rows.Concat(figures).Max(r => r.Item2.Length));

        var text = new StringBuilder();
        void Line(string kind, string count, string example) =>
            text.Append(kind.PadRight(kindWidth)).Append(" | ").Append(count.PadLeft(countWidth)).Append(" |")
                .Append(example.Length == 0 ? string.Empty : " " + example).Append('\n');
        void Rule() => text.Append('-', kindWidth + 1).Append('+').Append('-', countWidth + 2).Append('+').Append('-', "examples".Length + 1).Append('\n');

        Line("kind", "count", "examples");
        Rule();
        foreach (var row in rows)
        {
            Line(row.Kind, row.Count, row.Example);
        }

        Rule();
        foreach (var row in figures)
        {
            Line(row.Item1, row.Item2, row.Item3);
        }

        return text.ToString();
    }

    /// <summary>
    /// Formats a one-line JSON summary: the run's figures, <c>totalAnomalies</c>, <c>hasAnomalies</c> and
    /// <c>anomalies</c> (an object of camelCase kind → count, every kind included). Examples are not included.
    /// </summary>
    /// <returns>For example <c>{"sent":10,"acknowledged":10,...,"anomalies":{"lost":0,...}}</c>.</returns>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in Figures())
            {
                writer.WriteNumber(name, value);
            }

            writer.WriteNumber("totalAnomalies", TotalAnomalies);
            writer.WriteBoolean("hasAnomalies", HasAnomalies);
            writer.WriteStartObject("anomalies");
            foreach (var summary in _anomalies)
            {
                writer.WriteNumber(JsonNamingPolicy.CamelCase.ConvertName(summary.Kind.ToString()), summary.Count);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    /// <summary>Throws when any anomaly was found; the exception's message is <see cref="ToTable"/>.</summary>
    /// <exception cref="HistoryAnomalyException">At least one anomaly was found.</exception>
    public void ThrowIfAnomalies()
    {
        if (HasAnomalies)
        {
            throw new HistoryAnomalyException(this);
        }
    }

    /// <summary>Returns <see cref="ToTable"/>.</summary>
    /// <returns>The table.</returns>
    public override string ToString() => ToTable();

    private AnomalySummary Summary(AnomalyKind kind) =>
        (int)kind >= 0 && (int)kind < _anomalies.Length
            ? _anomalies[(int)kind]
            : throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not an anomaly kind.");

    private (string Name, int Value)[] Figures() =>
    [
        ("sent", Sent),
        ("acknowledged", Acknowledged),
        ("duplicatesAcknowledged", DuplicatesAcknowledged),
        ("failed", Failed),
        ("possiblyPersistedStored", PossiblyPersistedStored),
        ("possiblyPersistedAbsent", PossiblyPersistedAbsent),
        ("observed", Observed),
    ];
}

/// <summary>The run's figures, collected by the checker.</summary>
internal struct RunFigures
{
    public int Sent;
    public int Acknowledged;
    public int DuplicatesAcknowledged;
    public int Failed;
    public int PossiblyPersistedStored;
    public int PossiblyPersistedAbsent;
    public int Observed;
}

/// <summary>Thrown by <see cref="CheckReport.ThrowIfAnomalies"/>; the message is the report's table.</summary>
public sealed class HistoryAnomalyException : Exception
{
    /// <summary>Creates the exception for <paramref name="report"/>.</summary>
    /// <param name="report">The report with anomalies.</param>
    public HistoryAnomalyException(CheckReport report)
        : base((report ?? throw new ArgumentNullException(nameof(report))).ToTable())
    {
        Report = report;
    }

    /// <summary>Gets the report.</summary>
    public CheckReport Report { get; }
}
