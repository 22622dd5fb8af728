using System.Globalization;

namespace OrleansBroker.Testing;

/// <summary>A position in a topic's log: (topic, partition, offset).</summary>
/// <param name="Topic">The topic name.</param>
/// <param name="Partition">The partition number (0 or more).</param>
/// <param name="Offset">The record's offset in the partition (0 or more).</param>
public readonly record struct LogPosition(string Topic, int Partition, long Offset)
{
    /// <summary>Formats the position as <c>topic/partition@offset</c>.</summary>
    /// <returns>For example <c>orders/3@1042</c>.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Topic}/{Partition}@{Offset}");
}

/// <summary>
/// One record read back from the log after the run. The reader reads every partition from the log start offset to
/// the log end offset and extracts the record id from the value or a header (for example with
/// <see cref="RecordIdCodec.ParseRecordId(ReadOnlySpan{byte})"/>); each log position appears once.
/// </summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition number.</param>
/// <param name="Offset">The record's offset.</param>
/// <param name="RecordId">The record id extracted from it, or null when none could be parsed (always a
/// <see cref="AnomalyKind.Phantom"/>).</param>
public readonly record struct ObservedRecord(string Topic, int Partition, long Offset, string? RecordId)
{
    /// <summary>Gets the record's log position.</summary>
    public LogPosition Position => new(Topic, Partition, Offset);
}
