namespace OrleansBroker.Protocol;

/// <summary>Decodes records from a buffer of back-to-back record batches, as a fetch returns them.</summary>
public static class RecordBatchReader
{
    /// <summary>
    /// Enumerates the batches in <paramref name="batches"/> (header and the bytes of each batch), stopping
    /// at a trailing partial batch, as Kafka consumers do with a fetch cut at the byte limit.
    /// </summary>
    /// <param name="batches">Zero or more whole batches, possibly followed by a partial one.</param>
    /// <returns>Each whole batch's header and its bytes (a slice of <paramref name="batches"/>).</returns>
    public static IEnumerable<(RecordBatchHeader Header, ReadOnlyMemory<byte> Bytes)> ReadBatches(ReadOnlyMemory<byte> batches) => throw new NotImplementedException();

    /// <summary>Decodes every record of one uncompressed batch.</summary>
    /// <param name="batch">Exactly one batch.</param>
    /// <returns>The records with absolute offsets and timestamps; key, value and header bytes are slices of <paramref name="batch"/>.</returns>
    /// <exception cref="InvalidDataException">The batch is compressed or its records section is malformed.</exception>
    public static IReadOnlyList<Record> ReadRecords(ReadOnlyMemory<byte> batch) => throw new NotImplementedException();
}
