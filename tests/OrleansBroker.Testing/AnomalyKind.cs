namespace OrleansBroker.Testing;

/// <summary>
/// The kinds of anomaly <see cref="HistoryChecker"/> reports. Each is counted at most once per sent record, except
/// <see cref="Duplicate"/> (one per extra stored copy) and <see cref="Phantom"/> (one per stored record that was never
/// sent). A record can have several kinds at once (for example stored twice and out of order).
/// </summary>
public enum AnomalyKind
{
    /// <summary>Acknowledged, but no copy of the record is anywhere in the log read back. One per record.</summary>
    Lost = 0,

    /// <summary>Acknowledged and present in the log, but not at the acknowledged (topic, partition, offset): that
    /// position holds another record or nothing. One per record.</summary>
    WrongOffset = 1,

    /// <summary>A sent record stored more than once; counts the extra copies (stored three times = 2).</summary>
    Duplicate = 2,

    /// <summary>A record stored in a (topic, partition) at a lower offset than a record the same producer sent before
    /// it to that partition. One per record (the record that came too early). Uses each record's lowest-offset copy.</summary>
    Reordered = 3,

    /// <summary>A stored record whose id was never sent, or whose id could not be parsed. One per stored record.</summary>
    Phantom = 4,

    /// <summary>A record reported failed for good with possiblyPersisted false, yet stored. One per record. (Failed with
    /// possiblyPersisted true and stored is allowed and only counted in <see cref="CheckReport.PossiblyPersistedStored"/>.)</summary>
    FailedButStored = 5,

    /// <summary>Sent but neither acknowledged nor failed by the end of the run. One per record.</summary>
    Unresolved = 6,

    /// <summary>A record given more than one outcome (acknowledged twice, or acknowledged and failed); the first
    /// outcome is the one checked. One per record. Not in the list: it flags a client that completes a send twice.</summary>
    ConflictingOutcome = 7,
}
