namespace OrleansBroker.Testing;

/// <summary>The final outcome the client reported for a sent record.</summary>
public enum RecordOutcome
{
    /// <summary>Neither acknowledged nor failed (yet); at the end of a run this is <see cref="AnomalyKind.Unresolved"/>.</summary>
    Pending = 0,

    /// <summary>Acknowledged with a partition and offset.</summary>
    Acknowledged = 1,

    /// <summary>Failed for good.</summary>
    Failed = 2,
}

/// <summary>A snapshot of one sent record and its outcome, as <see cref="History"/> holds it.</summary>
/// <param name="Producer">The producer that sent it.</param>
/// <param name="RecordId">Its unique id.</param>
/// <param name="Topic">The topic it was sent to.</param>
/// <param name="SentPartition">The partition known at send time, or null when the partitioner decided later.</param>
/// <param name="SendIndex">Its position in the producer's send order (0-based).</param>
/// <param name="Outcome">The first outcome recorded.</param>
/// <param name="AckTopic">The acknowledged topic; null unless <see cref="Outcome"/> is acknowledged.</param>
/// <param name="AckPartition">The acknowledged partition; null unless acknowledged.</param>
/// <param name="AckOffset">The acknowledged offset; null unless acknowledged.</param>
/// <param name="IsDuplicateAck">True when the acknowledgement said duplicate.</param>
/// <param name="Error">The failure's error text; null unless failed.</param>
/// <param name="PossiblyPersisted">True when the failure's outcome was unknown (the record may be stored).</param>
/// <param name="ExtraOutcomes">Outcomes recorded after the first (each one an inconsistency); normally 0.</param>
public readonly record struct SentRecord(
    string Producer,
    string RecordId,
    string Topic,
    int? SentPartition,
    int SendIndex,
    RecordOutcome Outcome,
    string? AckTopic,
    int? AckPartition,
    long? AckOffset,
    bool IsDuplicateAck,
    string? Error,
    bool PossiblyPersisted,
    int ExtraOutcomes)
{
    /// <summary>Gets the acknowledged log position, or null unless <see cref="Outcome"/> is acknowledged.</summary>
    public LogPosition? AckPosition =>
        Outcome == RecordOutcome.Acknowledged ? new LogPosition(AckTopic!, AckPartition!.Value, AckOffset!.Value) : null;
}
