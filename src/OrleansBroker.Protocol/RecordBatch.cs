using System.Buffers.Binary;

namespace OrleansBroker.Protocol;

/// <summary>
/// Operations on the bytes of one Kafka record batch (magic v2) as the broker sees them: validation of
/// a batch from a producer, and the two in-place rewrites the broker makes on append.
/// </summary>
public static class RecordBatch
{
    /// <summary>
    /// Checks a batch from outside before it may be appended: length, magic, CRC-32C, compression,
    /// header consistency, and (when <paramref name="validateRecords"/>) that the records section holds
    /// exactly <c>recordCount</c> well-formed records. Touches no record unless asked to.
    /// </summary>
    /// <param name="batch">Exactly one batch: its length must equal <c>batchLength + 12</c>.</param>
    /// <param name="maxBatchBytes">The topic's largest accepted batch, in bytes (Kafka's <c>max.message.bytes</c>).</param>
    /// <param name="header">The parsed header, also when validation fails after parsing.</param>
    /// <param name="validateRecords">Also walk every record's length varints (costs a pass over the records).</param>
    /// <returns><see cref="BatchFormatError.None"/>, or why the batch is refused.</returns>
    public static BatchFormatError Validate(ReadOnlySpan<byte> batch, int maxBatchBytes, out RecordBatchHeader header, bool validateRecords = true)
    {
        if (!RecordBatchHeader.TryRead(batch, out header))
        {
            return BatchFormatError.InvalidLength;
        }

        if (header.Magic != RecordBatchHeader.CurrentMagic)
        {
            return BatchFormatError.UnsupportedMagic;
        }

        if (header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead)
        {
            return BatchFormatError.InvalidLength;
        }

        if (batch.Length > maxBatchBytes)
        {
            return BatchFormatError.TooLarge;
        }

        if ((long)header.BatchLength + RecordBatchHeader.LogOverhead != batch.Length)
        {
            return BatchFormatError.InvalidLength;
        }

        if (Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..]) != header.Crc)
        {
            return BatchFormatError.CrcMismatch;
        }

        if (header.Compression != CompressionType.None)
        {
            return BatchFormatError.UnsupportedCompression;
        }

        if (header.RecordCount < 1
            || header.LastOffsetDelta != header.RecordCount - 1
            || header.IsControl
            || (header.HasProducerId && (header.ProducerEpoch < 0 || header.BaseSequence < 0))
            || (!header.HasProducerId && header.ProducerId != RecordBatchHeader.NoProducerId))
        {
            return BatchFormatError.InvalidHeader;
        }

        if (validateRecords && !RecordCodec.TryCountRecords(batch[RecordBatchHeader.Size..], header.RecordCount))
        {
            return BatchFormatError.InvalidRecords;
        }

        return BatchFormatError.None;
    }

    /// <summary>
    /// Checks only the CRC-32C over bytes [21, end) against the header's, as a consumer does for every fetched batch
    /// (Kafka's <c>check.crcs</c>). Catches data corrupted at rest or in transit.
    /// </summary>
    /// <param name="batch">Exactly one batch, at least 61 bytes.</param>
    /// <returns>True when the stored CRC matches.</returns>
    public static bool IsCrcValid(ReadOnlySpan<byte> batch) =>
        RecordBatchHeader.TryRead(batch, out RecordBatchHeader header)
        && Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..]) == header.Crc;

    /// <summary>Writes <paramref name="baseOffset"/> into bytes 0–7. Outside the CRC range: the CRC stays valid.</summary>
    /// <param name="batch">The batch to rewrite in place.</param>
    /// <param name="baseOffset">Offset of the batch's first record in the partition.</param>
    public static void SetBaseOffset(Span<byte> batch, long baseOffset) =>
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.BaseOffsetOffset..], baseOffset);

    /// <summary>Writes the partition leader epoch into bytes 12–15. Outside the CRC range.</summary>
    /// <param name="batch">The batch to rewrite in place.</param>
    /// <param name="partitionLeaderEpoch">The leader epoch; 0 while partitions are not replicated.</param>
    public static void SetPartitionLeaderEpoch(Span<byte> batch, int partitionLeaderEpoch) =>
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.PartitionLeaderEpochOffset..], partitionLeaderEpoch);
}
