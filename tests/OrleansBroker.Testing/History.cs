using System.Collections.Concurrent;

namespace OrleansBroker.Testing;

/// <summary>
/// A thread-safe record of what a workload's producers sent and what the client reported back for each record:
/// the acknowledgement (topic, partition, offset, duplicate flag) or the final failure. <see cref="HistoryChecker"/>
/// compares it with what the log holds afterwards.
/// </summary>
/// <remarks>
/// <para>
/// Every record carries a unique record id (for example <see cref="RecordIdCodec.FormatId(string, long)"/>, stored in
/// the value or a header). Call <see cref="RecordSent"/> before handing the record to the client, then exactly one of
/// <see cref="RecordAcknowledged"/> or <see cref="RecordFailed"/> when the client reports its final outcome.
/// </para>
/// <para>
/// The send order of a producer is the order of its <see cref="RecordSent"/> calls (calls for one producer from several
/// threads are ordered by an internal lock); the send order within (producer, topic, partition) is that order
/// restricted to the records stored in the partition. All members may be called concurrently from any thread.
/// </para>
/// <para>
/// Memory: about 150 bytes per record plus the id string (measured: one million records with 12-character ids, about
/// 200 MB). Recording an outcome takes no lock and allocates nothing; RecordSent takes the producer's lock.
/// </para>
/// </remarks>
public sealed class History
{
    private readonly ConcurrentDictionary<string, Entry> _byId;
    private readonly ConcurrentDictionary<string, ProducerLog> _producers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string RecordId, string Description)> _conflicts = new();

    /// <summary>Creates an empty history.</summary>
    public History()
        : this(0)
    {
    }

    /// <summary>Creates an empty history sized for about <paramref name="expectedRecords"/> records.</summary>
    /// <param name="expectedRecords">Records the run is expected to send; 0 when unknown. Only a sizing hint.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expectedRecords"/> is negative.</exception>
    public History(int expectedRecords)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedRecords);
        _byId = new ConcurrentDictionary<string, Entry>(Environment.ProcessorCount, Math.Max(expectedRecords, 31), StringComparer.Ordinal);
    }

    /// <summary>Gets the number of records sent so far (distinct record ids).</summary>
    public int SentCount => _byId.Count;

    /// <summary>Gets the producers that sent at least one record, in ordinal order.</summary>
    public IReadOnlyList<string> Producers
    {
        get
        {
            var names = _producers.Keys.ToArray();
            Array.Sort(names, StringComparer.Ordinal);
            return names;
        }
    }

    /// <summary>
    /// Records that <paramref name="producer"/> hands record <paramref name="recordId"/> to the client for
    /// <paramref name="topic"/>. Call it before the send, so the acknowledgement can never arrive first.
    /// </summary>
    /// <param name="producer">The producer's name in this run (one send order per name).</param>
    /// <param name="recordId">The record's unique id, as the readback will extract it from the value or a header.</param>
    /// <param name="topic">The topic the record is sent to.</param>
    /// <param name="partition">The partition, or null when the partitioner decides later (the acknowledgement then tells).</param>
    /// <exception cref="ArgumentException">An argument is null or empty, or <paramref name="partition"/> is negative.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="recordId"/> was already sent: ids must be unique in a run.</exception>
    public void RecordSent(string producer, string recordId, string topic, int? partition = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(producer);
        ArgumentException.ThrowIfNullOrEmpty(recordId);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (partition is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(partition), partition, "A partition number is 0 or more.");
        }

        var log = _producers.GetOrAdd(producer, static name => new ProducerLog(name));
        var entry = new Entry(log.Name, recordId, topic, partition ?? -1);
        lock (log.Sync)
        {
            entry.SendIndex = log.Records.Count;
            if (!_byId.TryAdd(recordId, entry))
            {
                throw new InvalidOperationException($"Record id '{recordId}' was already sent; every record of a run needs a unique id.");
            }

            log.Records.Add(entry);
        }
    }

    /// <summary>Records the client's acknowledgement of <paramref name="recordId"/>: it says the record is at
    /// <paramref name="offset"/> of (<paramref name="topic"/>, <paramref name="partition"/>).</summary>
    /// <param name="recordId">The id given to <see cref="RecordSent"/>.</param>
    /// <param name="topic">The acknowledged topic.</param>
    /// <param name="partition">The acknowledged partition.</param>
    /// <param name="offset">The acknowledged offset of this record (base offset + its index in the batch).</param>
    /// <param name="isDuplicate">True when the broker said the batch was a duplicate of one already in the log
    /// (the offset is then the original copy's).</param>
    /// <remarks>A second outcome for one record (a second acknowledgement or a failure after it) is not stored; it is
    /// reported as <see cref="AnomalyKind.ConflictingOutcome"/>.</remarks>
    /// <exception cref="ArgumentException">An argument is null, empty or negative.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="recordId"/> was never passed to <see cref="RecordSent"/>.</exception>
    public void RecordAcknowledged(string recordId, string topic, int partition, long offset, bool isDuplicate)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var entry = Lookup(recordId);
        if (entry.TryClaim())
        {
            entry.AckTopic = topic;
            entry.AckPartition = partition;
            entry.AckOffset = offset;
            entry.IsDuplicate = isDuplicate;
            entry.Publish(Entry.Acknowledged);
        }
        else
        {
            Conflict(entry, $"acknowledged at {topic}/{partition}@{offset}{(isDuplicate ? " (duplicate)" : string.Empty)}");
        }
    }

    /// <summary>Records that the client gave up on <paramref name="recordId"/> for good (its final outcome).</summary>
    /// <param name="recordId">The id given to <see cref="RecordSent"/>.</param>
    /// <param name="error">The error reported (code or message), kept for the report.</param>
    /// <param name="possiblyPersisted">True when the outcome is unknown (a timeout, a lost reply): the record may be
    /// in the log and that is allowed. False when the client knows it was not written (a rejection); finding it in the
    /// log is then <see cref="AnomalyKind.FailedButStored"/>.</param>
    /// <remarks>A second outcome for one record is not stored; it is reported as <see cref="AnomalyKind.ConflictingOutcome"/>.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="recordId"/> was never passed to <see cref="RecordSent"/>.</exception>
    public void RecordFailed(string recordId, string error, bool possiblyPersisted)
    {
        ArgumentNullException.ThrowIfNull(error);
        var entry = Lookup(recordId);
        if (entry.TryClaim())
        {
            entry.Error = error;
            entry.PossiblyPersisted = possiblyPersisted;
            entry.Publish(Entry.Failed);
        }
        else
        {
            Conflict(entry, $"failed ({error}){(possiblyPersisted ? " possibly persisted" : string.Empty)}");
        }
    }

    /// <summary>Returns a snapshot of one producer's records in send order; empty when the producer sent nothing.</summary>
    /// <param name="producer">The producer's name.</param>
    /// <returns>The records, <see cref="SentRecord.SendIndex"/> 0, 1, 2, ...</returns>
    public IReadOnlyList<SentRecord> GetRecords(string producer)
    {
        ArgumentNullException.ThrowIfNull(producer);
        if (!_producers.TryGetValue(producer, out var log))
        {
            return [];
        }

        Entry[] entries;
        lock (log.Sync)
        {
            entries = [.. log.Records];
        }

        var result = new SentRecord[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            result[i] = entries[i].Snapshot();
        }

        return result;
    }

    /// <summary>Returns the record sent with <paramref name="recordId"/>, or null when no such id was sent.</summary>
    /// <param name="recordId">The record id.</param>
    /// <returns>A snapshot of the record, or null.</returns>
    public SentRecord? GetRecord(string recordId)
    {
        ArgumentNullException.ThrowIfNull(recordId);
        return _byId.TryGetValue(recordId, out var entry) ? entry.Snapshot() : null;
    }

    /// <summary>Returns true when <paramref name="recordId"/> was sent.</summary>
    internal bool WasSent(string recordId) => _byId.ContainsKey(recordId);

    /// <summary>Gets descriptions of the extra outcomes recorded for records that already had one, in arrival order.</summary>
    internal IReadOnlyCollection<(string RecordId, string Description)> Conflicts => _conflicts;

    private Entry Lookup(string recordId)
    {
        ArgumentException.ThrowIfNullOrEmpty(recordId);
        return _byId.TryGetValue(recordId, out var entry)
            ? entry
            : throw new InvalidOperationException($"Record id '{recordId}' was never recorded as sent; call RecordSent before the send.");
    }

    private void Conflict(Entry entry, string description)
    {
        Interlocked.Increment(ref entry.ExtraOutcomes);
        _conflicts.Enqueue((entry.RecordId, description));
    }

    private sealed class ProducerLog(string name)
    {
        public string Name { get; } = name;

        public Lock Sync { get; } = new();

        public List<Entry> Records { get; } = [];
    }

    private sealed class Entry(string producer, string recordId, string topic, int sentPartition)
    {
        public const int Pending = 0;
        public const int Claimed = 1;
        public const int Acknowledged = 2;
        public const int Failed = 3;

#pragma warning disable CA1051 // Fields are passed by ref to Interlocked.
        public int State;
        public int ExtraOutcomes;
#pragma warning restore CA1051

        public string Producer { get; } = producer;

        public string RecordId { get; } = recordId;

        public string Topic { get; } = topic;

        public int SentPartition { get; } = sentPartition;

        public int SendIndex { get; set; }

        public string? AckTopic { get; set; }

        public int AckPartition { get; set; } = -1;

        public long AckOffset { get; set; } = -1;

        public bool IsDuplicate { get; set; }

        public string? Error { get; set; }

        public bool PossiblyPersisted { get; set; }

        public bool TryClaim() => Interlocked.CompareExchange(ref State, Claimed, Pending) == Pending;

        public void Publish(int state) => Volatile.Write(ref State, state);

        public SentRecord Snapshot()
        {
            var state = Volatile.Read(ref State);
            var spin = default(SpinWait);
            while (state == Claimed)
            {
                spin.SpinOnce();
                state = Volatile.Read(ref State);
            }

            var outcome = state switch
            {
                Acknowledged => RecordOutcome.Acknowledged,
                Failed => RecordOutcome.Failed,
                _ => RecordOutcome.Pending,
            };
            return new SentRecord(
                Producer,
                RecordId,
                Topic,
                SentPartition < 0 ? null : SentPartition,
                SendIndex,
                outcome,
                outcome == RecordOutcome.Acknowledged ? AckTopic : null,
                outcome == RecordOutcome.Acknowledged ? AckPartition : null,
                outcome == RecordOutcome.Acknowledged ? AckOffset : null,
                outcome == RecordOutcome.Acknowledged && IsDuplicate,
                outcome == RecordOutcome.Failed ? Error : null,
                outcome == RecordOutcome.Failed && PossiblyPersisted,
                Volatile.Read(ref ExtraOutcomes));
        }
    }
}
