using System.Text;

namespace OrleansBroker.Protocol;

/// <summary>Decodes records from a buffer of back-to-back record batches, as a fetch returns them.</summary>
public static class RecordBatchReader
{
    /// <summary>
    /// Enumerates the batches in <paramref name="batches"/> (header and the bytes of each batch), stopping
    /// at a trailing partial batch, as Kafka consumers do with a fetch cut at the byte limit.
    /// Checks only each batch's length; use <see cref="RecordBatch.Validate"/> or <see cref="ReadRecords"/> for the rest.
    /// </summary>
    /// <param name="batches">Zero or more whole batches, possibly followed by a partial one.</param>
    /// <returns>Each whole batch's header and its bytes (a slice of <paramref name="batches"/>).</returns>
    /// <exception cref="InvalidDataException">
    /// While enumerating: a batch's <c>batchLength</c> is shorter than the v2 header, so the next batch cannot be found
    /// (Kafka's consumer raises <c>CorruptRecordException</c> there).
    /// </exception>
    public static IEnumerable<(RecordBatchHeader Header, ReadOnlyMemory<byte> Bytes)> ReadBatches(ReadOnlyMemory<byte> batches)
    {
        int position = 0;
        while (RecordBatchHeader.TryRead(batches.Span[position..], out RecordBatchHeader header))
        {
            if (header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead)
            {
                throw new InvalidDataException(
                    $"Record batch at byte {position} declares batchLength {header.BatchLength}; a v2 batch needs at least {RecordBatchHeader.Size - RecordBatchHeader.LogOverhead}.");
            }

            long total = (long)header.BatchLength + RecordBatchHeader.LogOverhead;
            if (total > batches.Length - position)
            {
                yield break;
            }

            yield return (header, batches.Slice(position, (int)total));
            position += (int)total;
        }
    }

    /// <summary>
    /// Walks the records of one batch without allocating: each <see cref="RecordView"/> holds slices of <paramref name="batch"/>.
    /// The same checks as <see cref="ReadRecords"/>; the records are checked as the enumeration reaches them.
    /// </summary>
    /// <param name="batch">Exactly one uncompressed batch (a slice from <see cref="ReadBatches"/>).</param>
    /// <returns>An enumerator for <c>foreach</c>.</returns>
    /// <exception cref="InvalidDataException">The header is invalid or the batch is compressed (here); a record is malformed (while enumerating).</exception>
    public static RecordEnumerator EnumerateRecords(ReadOnlyMemory<byte> batch)
    {
        RecordBatchHeader header = CheckForReading(batch.Span);
        return new RecordEnumerator(batch[RecordBatchHeader.Size..], header);
    }

    private static RecordBatchHeader CheckForReading(ReadOnlySpan<byte> span)
    {
        if (!RecordBatchHeader.TryRead(span, out RecordBatchHeader header))
        {
            throw new InvalidDataException($"A record batch needs at least {RecordBatchHeader.Size} bytes; got {span.Length}.");
        }

        if (header.Magic != RecordBatchHeader.CurrentMagic)
        {
            throw new InvalidDataException($"Record batch magic {header.Magic} is not supported; only {RecordBatchHeader.CurrentMagic} is.");
        }

        if ((long)header.BatchLength + RecordBatchHeader.LogOverhead != span.Length)
        {
            throw new InvalidDataException($"Record batch declares batchLength {header.BatchLength} ({(long)header.BatchLength + RecordBatchHeader.LogOverhead} bytes in all) but {span.Length} bytes were given.");
        }

        if (header.Compression != CompressionType.None)
        {
            throw new InvalidDataException($"Record batch is compressed with {header.Compression}; only uncompressed batches can be read.");
        }

        if (header.RecordCount < 0)
        {
            throw new InvalidDataException($"Record batch declares a negative record count ({header.RecordCount}).");
        }

        return header;
    }

    /// <summary>Decodes every record of one uncompressed batch.</summary>
    /// <param name="batch">Exactly one batch (<c>batchLength + 12</c> bytes).</param>
    /// <returns>
    /// The records with absolute offsets (base offset + offset delta) and timestamps (base timestamp + delta, or the
    /// batch's max timestamp under LogAppendTime); key, value and header bytes are slices of <paramref name="batch"/>,
    /// header values are copies. The CRC is not checked here: see <see cref="RecordBatch.Validate"/>.
    /// </returns>
    /// <exception cref="InvalidDataException">
    /// The batch is compressed, its magic is not 2, its length disagrees with <c>batchLength</c>, or its records
    /// section does not decode to exactly <c>recordCount</c> records.
    /// </exception>
    public static IReadOnlyList<Record> ReadRecords(ReadOnlyMemory<byte> batch)
    {
        // The same walk and checks as EnumerateRecords, materialized.
        RecordBatchHeader header = CheckForReading(batch.Span);
        var result = new List<Record>(Math.Min(header.RecordCount, (batch.Length - RecordBatchHeader.Size) / (RecordCodec.MinRecordBodyBytes + 1)));
        foreach (RecordView r in new RecordEnumerator(batch[RecordBatchHeader.Size..], header))
        {
            result.Add(new Record(r.Offset, r.Timestamp, r.Key, r.Value, r.ReadHeaders()));
        }

        return result;
    }
}
