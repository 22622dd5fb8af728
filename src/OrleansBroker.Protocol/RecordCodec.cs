namespace OrleansBroker.Protocol;

/// <summary>Varint and record-level encoding of Kafka's record format v2 (zigzag varints, as in protobuf).</summary>
internal static class RecordCodec
{
    /// <summary>
    /// Walks the records section and returns true when it holds exactly <paramref name="expectedCount"/>
    /// records whose length prefixes match their contents and nothing is left over.
    /// </summary>
    public static bool TryCountRecords(ReadOnlySpan<byte> records, int expectedCount) => throw new NotImplementedException();
}
