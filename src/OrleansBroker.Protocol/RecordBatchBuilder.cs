namespace OrleansBroker.Protocol;

/// <summary>
/// Encodes records into one uncompressed Kafka record batch (magic v2), the way a Kafka producer's
/// accumulator does: records are appended until the batch is full, then the batch is sealed with the
/// producer id, epoch and base sequence, and its CRC-32C is computed once.
/// </summary>
/// <remarks>Not thread-safe. A sealed builder cannot take more records.</remarks>
public sealed class RecordBatchBuilder
{
    /// <summary>Creates an empty builder.</summary>
    /// <param name="maxBatchBytes">Largest batch in bytes (Kafka's <c>batch.size</c>); a first record larger than this is still accepted alone.</param>
    public RecordBatchBuilder(int maxBatchBytes) => throw new NotImplementedException();

    /// <summary>Records added so far.</summary>
    public int RecordCount => throw new NotImplementedException();

    /// <summary>Bytes the sealed batch would take now, header included.</summary>
    public int SizeInBytes => throw new NotImplementedException();

    /// <summary>Timestamp of the first record, ms since the Unix epoch; 0 while empty.</summary>
    public long BaseTimestamp => throw new NotImplementedException();

    /// <summary>
    /// Appends a record if it fits: always when the builder is empty, otherwise while the batch stays within
    /// the size given to the constructor.
    /// </summary>
    /// <param name="timestamp">CreateTime in ms since the Unix epoch.</param>
    /// <param name="key">Key bytes; ignored when <paramref name="keyIsNull"/>.</param>
    /// <param name="keyIsNull">Write a null key (length -1), distinct from an empty one.</param>
    /// <param name="value">Value bytes; ignored when <paramref name="valueIsNull"/>.</param>
    /// <param name="valueIsNull">Write a null value (a tombstone, length -1).</param>
    /// <param name="headers">Headers, or <c>null</c> for none.</param>
    /// <returns>False when the record does not fit; the builder is unchanged.</returns>
    /// <exception cref="InvalidOperationException">The builder was sealed.</exception>
    public bool TryAppend(long timestamp, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, IReadOnlyList<RecordHeader>? headers) => throw new NotImplementedException();

    /// <summary>
    /// Writes the header (base offset 0, partition leader epoch 0, magic 2, attributes 0 / CreateTime) and the CRC,
    /// and returns the batch bytes. The builder can then be reused after <see cref="Reset"/>.
    /// </summary>
    /// <param name="producerId">PID, or -1 without idempotence.</param>
    /// <param name="producerEpoch">Producer epoch, or -1.</param>
    /// <param name="baseSequence">Sequence of the first record, or -1.</param>
    /// <returns>A new array holding exactly one batch.</returns>
    /// <exception cref="InvalidOperationException">The builder holds no record.</exception>
    public byte[] Seal(long producerId, short producerEpoch, int baseSequence) => throw new NotImplementedException();

    /// <summary>Empties the builder for the next batch.</summary>
    public void Reset() => throw new NotImplementedException();
}
