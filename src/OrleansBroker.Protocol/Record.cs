namespace OrleansBroker.Protocol;

/// <summary>One record header: a UTF-8 key and a value that may be null (Kafka allows a null header value).</summary>
/// <param name="Key">Header name.</param>
/// <param name="Value">Header value bytes; <c>null</c> is distinct from empty.</param>
public sealed record RecordHeader(string Key, byte[]? Value);

/// <summary>One record read back from a batch, with its absolute offset and timestamp.</summary>
/// <param name="Offset">Offset in the partition: the batch's base offset plus the record's offset delta.</param>
/// <param name="Timestamp">ms since the Unix epoch: base timestamp plus delta (or the batch's max timestamp under LogAppendTime).</param>
/// <param name="Key">Key bytes, or <c>null</c>.</param>
/// <param name="Value">Value bytes, or <c>null</c> for a tombstone.</param>
/// <param name="Headers">Headers in the order written; empty when none.</param>
public sealed record Record(long Offset, long Timestamp, ReadOnlyMemory<byte>? Key, ReadOnlyMemory<byte>? Value, IReadOnlyList<RecordHeader> Headers);
