using System.Globalization;
using System.Runtime.InteropServices;

namespace OrleansBroker.Testing;

/// <summary>
/// Compares a <see cref="History"/> with the log read back after the run and reports anomalies by kind.
/// </summary>
/// <remarks>
/// <para>Definitions (per sent record r; "stored" = at least one observed record carries r's id; a copy is one such
/// observed record):</para>
/// <list type="bullet">
/// <item><description><see cref="AnomalyKind.Lost"/>: r was acknowledged and no copy of r is anywhere in the log.</description></item>
/// <item><description><see cref="AnomalyKind.WrongOffset"/>: r was acknowledged at position P, r is stored, but no copy
/// is at P (P holds another record, or nothing). Lost and WrongOffset exclude each other.</description></item>
/// <item><description><see cref="AnomalyKind.Duplicate"/>: r has n &gt; 1 copies; counts n − 1.</description></item>
/// <item><description><see cref="AnomalyKind.Reordered"/>: in some (topic, partition), r's lowest-offset copy is below
/// the highest lowest-offset copy of the records the same producer sent before r that are stored in that partition.
/// Walking the producer's records in send order with a running maximum per partition, each record below the maximum
/// counts once (stored C, A, B after sending A, B, C counts 1: C).</description></item>
/// <item><description><see cref="AnomalyKind.Phantom"/>: an observed record whose id is null or was never sent; one per
/// observed record.</description></item>
/// <item><description><see cref="AnomalyKind.FailedButStored"/>: r failed with possiblyPersisted false and is stored.
/// Failed with possiblyPersisted true is not an anomaly: counted in
/// <see cref="CheckReport.PossiblyPersistedStored"/> or <see cref="CheckReport.PossiblyPersistedAbsent"/>.</description></item>
/// <item><description><see cref="AnomalyKind.Unresolved"/>: r has no outcome (neither acknowledged nor failed).</description></item>
/// <item><description><see cref="AnomalyKind.ConflictingOutcome"/>: r was given more than one outcome; the first one is
/// the one checked above.</description></item>
/// </list>
/// <para>Duplicate and Reordered apply to every stored record whatever its outcome; the other per-record kinds depend
/// on the outcome. Check takes O(records) time and memory.</para>
/// </remarks>
public static class HistoryChecker
{
    /// <summary>The default number of examples kept per anomaly kind.</summary>
    public const int DefaultMaxExamples = 5;

    /// <summary>Checks <paramref name="history"/> against the records read back from the log.</summary>
    /// <param name="history">The history recorded during the run; take it once every send has its outcome.</param>
    /// <param name="observed">Every record read back from every partition written, each log position once.</param>
    /// <param name="maxExamples">Examples kept per anomaly kind (0 or more).</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An observed record has an empty topic or a negative partition or offset, or
    /// two observed records claim one log position (the readback is wrong, not the log).</exception>
    public static CheckReport Check(History history, IEnumerable<ObservedRecord> observed, int maxExamples = DefaultMaxExamples)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(observed);
        ArgumentOutOfRangeException.ThrowIfNegative(maxExamples);

        var collector = new Collector(maxExamples);
        var figures = default(RunFigures);

        // Pass 1: index the log read back by record id and by position; find phantoms.
        var copiesById = new Dictionary<string, Copies>(StringComparer.Ordinal);
        var holders = new Dictionary<LogPosition, string?>();
        foreach (var record in observed)
        {
            if (string.IsNullOrEmpty(record.Topic) || record.Partition < 0 || record.Offset < 0)
            {
                throw new ArgumentException(
                    $"Observed record {record} needs a topic, a partition >= 0 and an offset >= 0.", nameof(observed));
            }

            var position = record.Position;
            if (!holders.TryAdd(position, record.RecordId))
            {
                throw new ArgumentException(
                    $"Two observed records claim {position} ('{holders[position]}' and '{record.RecordId}'); the readback must list each log position once.",
                    nameof(observed));
            }

            figures.Observed++;
            if (record.RecordId is null || !history.WasSent(record.RecordId))
            {
                if (collector.Count(AnomalyKind.Phantom))
                {
                    collector.Example(
                        AnomalyKind.Phantom,
                        record.RecordId,
                        position,
                        record.RecordId is null ? "stored record whose id could not be parsed" : "stored but never sent");
                }

                continue;
            }

            ref var copies = ref CollectionsMarshal.GetValueRefOrAddDefault(copiesById, record.RecordId, out _);
            copies.Add(position);
        }

        var conflicts = FirstConflicts(history);

        // Pass 2: every sent record, producers in ordinal order, each in send order.
        foreach (var producer in history.Producers)
        {
            var lastOffsets = new Dictionary<(string Topic, int Partition), (long Offset, string RecordId)>();
            foreach (var sent in history.GetRecords(producer))
            {
                figures.Sent++;
                copiesById.TryGetValue(sent.RecordId, out var copies);
                CheckOutcome(sent, copies, holders, collector, ref figures);

                if (copies.Count > 1)
                {
                    if (collector.Count(AnomalyKind.Duplicate, copies.Count - 1))
                    {
                        collector.Example(
                            AnomalyKind.Duplicate, sent.RecordId, copies.First, $"stored {copies.Count} times: {string.Join(", ", copies.All())}");
                    }
                }

                if (sent.ExtraOutcomes > 0)
                {
                    conflicts.TryGetValue(sent.RecordId, out var conflict);
                    if (collector.Count(AnomalyKind.ConflictingOutcome))
                    {
                        collector.Example(
                            AnomalyKind.ConflictingOutcome,
                            sent.RecordId,
                            sent.AckPosition,
                            $"first {Describe(sent)}; then {sent.ExtraOutcomes} more outcome(s), first: {conflict ?? "?"}");
                    }
                }

                CheckOrder(sent, copies, lastOffsets, collector);
            }
        }

        return new CheckReport(figures, collector.Build());
    }

    private static void CheckOutcome(
        SentRecord sent, Copies copies, Dictionary<LogPosition, string?> holders, Collector collector, ref RunFigures figures)
    {
        switch (sent.Outcome)
        {
            case RecordOutcome.Acknowledged:
                figures.Acknowledged++;
                if (sent.IsDuplicateAck)
                {
                    figures.DuplicatesAcknowledged++;
                }

                var acked = sent.AckPosition!.Value;
                if (copies.Count == 0)
                {
                    if (collector.Count(AnomalyKind.Lost))
                    {
                        collector.Example(
                            AnomalyKind.Lost, sent.RecordId, acked, $"acknowledged at {acked} but not in the log; {acked} {Holder(holders, acked)}");
                    }
                }
                else if (!copies.Contains(acked))
                {
                    if (collector.Count(AnomalyKind.WrongOffset))
                    {
                        collector.Example(
                            AnomalyKind.WrongOffset,
                            sent.RecordId,
                            acked,
                            $"acknowledged at {acked}, which {Holder(holders, acked)}; stored at {string.Join(", ", copies.All())}");
                    }
                }

                break;

            case RecordOutcome.Failed:
                figures.Failed++;
                if (sent.PossiblyPersisted)
                {
                    if (copies.Count > 0)
                    {
                        figures.PossiblyPersistedStored++;
                    }
                    else
                    {
                        figures.PossiblyPersistedAbsent++;
                    }
                }
                else if (copies.Count > 0)
                {
                    if (collector.Count(AnomalyKind.FailedButStored))
                    {
                        collector.Example(
                            AnomalyKind.FailedButStored,
                            sent.RecordId,
                            copies.First,
                            $"failed for good ({sent.Error}) but stored at {string.Join(", ", copies.All())}");
                    }
                }

                break;

            default:
                if (collector.Count(AnomalyKind.Unresolved))
                {
                    var partition = sent.SentPartition is { } p ? "/" + p.ToString(CultureInfo.InvariantCulture) : string.Empty;
                    var where = copies.Count > 0 ? $"stored at {string.Join(", ", copies.All())}" : "not in the log";
                    collector.Example(
                        AnomalyKind.Unresolved,
                        sent.RecordId,
                        copies.Count > 0 ? copies.First : null,
                        $"sent by {sent.Producer} to {sent.Topic}{partition}, no outcome recorded; {where}");
                }

                break;
        }
    }

    private static void CheckOrder(
        SentRecord sent,
        Copies copies,
        Dictionary<(string Topic, int Partition), (long Offset, string RecordId)> lastOffsets,
        Collector collector)
    {
        if (copies.Count == 0)
        {
            return;
        }

        var reported = false;
        foreach (var (topic, partition, offset) in copies.LowestPerPartition())
        {
            ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(lastOffsets, (topic, partition), out var exists);
            if (!exists)
            {
                last = (offset, sent.RecordId);
            }
            else if (offset < last.Offset)
            {
                if (!reported)
                {
                    reported = true;
                    if (collector.Count(AnomalyKind.Reordered))
                    {
                        collector.Example(
                            AnomalyKind.Reordered,
                            sent.RecordId,
                            new LogPosition(topic, partition, offset),
                            $"stored before {last.RecordId} (sent earlier by {sent.Producer}) at offset {last.Offset.ToString(CultureInfo.InvariantCulture)}");
                    }
                }
            }
            else
            {
                last = (offset, sent.RecordId);
            }
        }
    }

    private static string Holder(Dictionary<LogPosition, string?> holders, LogPosition position) =>
        holders.TryGetValue(position, out var holder)
            ? $"holds {holder ?? "a record without a parsable id"}"
            : "is empty";

    private static string Describe(SentRecord sent) => sent.Outcome switch
    {
        RecordOutcome.Acknowledged => $"acknowledged at {sent.AckPosition}{(sent.IsDuplicateAck ? " (duplicate)" : string.Empty)}",
        RecordOutcome.Failed => $"failed ({sent.Error}){(sent.PossiblyPersisted ? " possibly persisted" : string.Empty)}",
        _ => "pending",
    };

    private static Dictionary<string, string> FirstConflicts(History history)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (recordId, description) in history.Conflicts)
        {
            result.TryAdd(recordId, description);
        }

        return result;
    }

    /// <summary>The copies of one record id in the log: the first inline, more in a list (rare).</summary>
    private struct Copies
    {
        private List<LogPosition>? _more;

        public int Count { get; private set; }

        public LogPosition First { get; private set; }

        public void Add(LogPosition position)
        {
            if (Count == 0)
            {
                First = position;
            }
            else
            {
                (_more ??= []).Add(position);
            }

            Count++;
        }

        public readonly bool Contains(LogPosition position) =>
            Count > 0 && (First == position || (_more?.Contains(position) ?? false));

        public readonly IEnumerable<LogPosition> All()
        {
            if (Count == 0)
            {
                return [];
            }

            return _more is null ? [First] : new[] { First }.Concat(_more).OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition).ThenBy(p => p.Offset);
        }

        public readonly IEnumerable<(string Topic, int Partition, long Offset)> LowestPerPartition()
        {
            if (_more is null)
            {
                return Count == 0 ? [] : [(First.Topic, First.Partition, First.Offset)];
            }

            return All()
                .GroupBy(p => (p.Topic, p.Partition))
                .Select(g => (g.Key.Topic, g.Key.Partition, g.Min(p => p.Offset)));
        }
    }

    /// <summary>Counts and the first examples per kind.</summary>
    private sealed class Collector(int maxExamples)
    {
        private readonly int[] _counts = new int[Enum.GetValues<AnomalyKind>().Length];
        private readonly List<AnomalyExample>[] _examples =
            [.. Enumerable.Range(0, Enum.GetValues<AnomalyKind>().Length).Select(_ => new List<AnomalyExample>())];

        /// <summary>Counts <paramref name="count"/> anomalies of <paramref name="kind"/>; returns true when an example is still wanted.</summary>
        public bool Count(AnomalyKind kind, int count = 1)
        {
            _counts[(int)kind] += count;
            return _examples[(int)kind].Count < maxExamples;
        }

        public void Example(AnomalyKind kind, string? recordId, LogPosition? position, string detail) =>
            _examples[(int)kind].Add(new AnomalyExample(recordId, position, detail));

        public AnomalySummary[] Build() =>
            [.. Enum.GetValues<AnomalyKind>().Select(k => new AnomalySummary(k, _counts[(int)k], _examples[(int)k].AsReadOnly()))];
    }
}
