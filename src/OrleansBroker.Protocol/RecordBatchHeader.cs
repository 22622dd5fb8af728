using System.Buffers.Binary;

namespace OrleansBroker.Protocol;

/// <summary>
/// The 61-byte header of a Kafka record batch, magic v2, as laid out in Kafka's protocol documentation
/// ("Record Batch"): all integers big-endian.
/// </summary>
/// <remarks>
/// Layout (byte offsets): baseOffset int64 @0, batchLength int32 @8, partitionLeaderEpoch int32 @12,
/// magic int8 @16, crc uint32 @17, attributes int16 @21, lastOffsetDelta int32 @23, baseTimestamp int64 @27,
/// maxTimestamp int64 @35, producerId int64 @43, producerEpoch int16 @51, baseSequence int32 @53,
/// recordCount int32 @57, records @61. The CRC covers bytes [21, end), so the broker may rewrite
/// baseOffset and partitionLeaderEpoch without recomputing it.
/// </remarks>
public readonly record struct RecordBatchHeader
{
    /// <summary>Size of the v2 header in bytes.</summary>
    public const int Size = 61;

    /// <summary>Bytes before <c>batchLength</c>'s count starts: baseOffset (8) and batchLength (4).</summary>
    public const int LogOverhead = 12;

    /// <summary>The only magic value this broker reads and writes.</summary>
    public const sbyte CurrentMagic = 2;

    /// <summary>Producer id of a producer without idempotence.</summary>
    public const long NoProducerId = -1;

    /// <summary>Producer epoch of a producer without idempotence.</summary>
    public const short NoProducerEpoch = -1;

    /// <summary>Base sequence of a producer without idempotence.</summary>
    public const int NoSequence = -1;

    internal const int BaseOffsetOffset = 0;
    internal const int BatchLengthOffset = 8;
    internal const int PartitionLeaderEpochOffset = 12;
    internal const int MagicOffset = 16;
    internal const int CrcOffset = 17;
    internal const int AttributesOffset = 21;
    internal const int LastOffsetDeltaOffset = 23;
    internal const int BaseTimestampOffset = 27;
    internal const int MaxTimestampOffset = 35;
    internal const int ProducerIdOffset = 43;
    internal const int ProducerEpochOffset = 51;
    internal const int BaseSequenceOffset = 53;
    internal const int RecordCountOffset = 57;

    /// <summary>Offset of the first record; assigned by the broker on append.</summary>
    public long BaseOffset { get; init; }

    /// <summary>Bytes after the <c>batchLength</c> field: the whole batch is <c>batchLength + 12</c> bytes.</summary>
    public int BatchLength { get; init; }

    /// <summary>Leader epoch of the partition when appended; 0 here (no replication yet).</summary>
    public int PartitionLeaderEpoch { get; init; }

    /// <summary>Format version; always 2.</summary>
    public sbyte Magic { get; init; }

    /// <summary>CRC-32C over bytes [21, end).</summary>
    public uint Crc { get; init; }

    /// <summary>Bit 0–2 compression, bit 3 timestamp type, bit 4 transactional, bit 5 control, bit 6 delete horizon.</summary>
    public short Attributes { get; init; }

    /// <summary><c>recordCount - 1</c> for a batch written by a producer.</summary>
    public int LastOffsetDelta { get; init; }

    /// <summary>Timestamp of the first record, ms since the Unix epoch.</summary>
    public long BaseTimestamp { get; init; }

    /// <summary>Largest record timestamp in the batch, ms since the Unix epoch.</summary>
    public long MaxTimestamp { get; init; }

    /// <summary>Producer id (PID); -1 when the producer is not idempotent.</summary>
    public long ProducerId { get; init; }

    /// <summary>Producer epoch; -1 when the producer is not idempotent.</summary>
    public short ProducerEpoch { get; init; }

    /// <summary>Sequence of the first record for (PID, partition); -1 when the producer is not idempotent.</summary>
    public int BaseSequence { get; init; }

    /// <summary>Number of records in the batch.</summary>
    public int RecordCount { get; init; }

    /// <summary>Total size of the batch in bytes: <c>BatchLength + 12</c>.</summary>
    public int TotalSize => BatchLength + LogOverhead;

    /// <summary>Offset of the last record: <c>BaseOffset + LastOffsetDelta</c>.</summary>
    public long LastOffset => BaseOffset + LastOffsetDelta;

    /// <summary>The compression codec from the attributes.</summary>
    public CompressionType Compression => (CompressionType)(Attributes & 0x07);

    /// <summary>True when bit 3 of the attributes says LogAppendTime.</summary>
    public bool IsLogAppendTime => (Attributes & 0x08) != 0;

    /// <summary>True when the batch belongs to a transaction (bit 4).</summary>
    public bool IsTransactional => (Attributes & 0x10) != 0;

    /// <summary>True for a control batch (commit/abort marker, bit 5).</summary>
    public bool IsControl => (Attributes & 0x20) != 0;

    /// <summary>True when the batch carries a producer id, i.e. it takes part in deduplication.</summary>
    public bool HasProducerId => ProducerId >= 0;

    /// <summary>
    /// Sequence of the last record: <c>BaseSequence + RecordCount - 1</c>, wrapping from
    /// <see cref="int.MaxValue"/> to 0 as Kafka's <c>DefaultRecordBatch.incrementSequence</c> does.
    /// </summary>
    public int LastSequence => IncrementSequence(BaseSequence, RecordCount - 1);

    /// <summary>Adds <paramref name="increment"/> to a sequence, wrapping past <see cref="int.MaxValue"/> to 0.</summary>
    /// <param name="sequence">A sequence, 0 or more.</param>
    /// <param name="increment">How many records to move on, 0 or more.</param>
    /// <returns>The sequence <paramref name="increment"/> records later.</returns>
    public static int IncrementSequence(int sequence, int increment)
    {
        if (sequence < 0)
        {
            return sequence;
        }

        return sequence > int.MaxValue - increment
            ? increment - (int.MaxValue - sequence) - 1
            : sequence + increment;
    }

    /// <summary>
    /// Reads the header fields from the first 61 bytes of <paramref name="batch"/>. Checks nothing but the length:
    /// use <see cref="RecordBatch.Validate"/> for bytes from outside.
    /// </summary>
    /// <param name="batch">A buffer that starts with a batch.</param>
    /// <param name="header">The parsed header.</param>
    /// <returns>False when fewer than 61 bytes are given.</returns>
    public static bool TryRead(ReadOnlySpan<byte> batch, out RecordBatchHeader header)
    {
        if (batch.Length < Size)
        {
            header = default;
            return false;
        }

        header = new RecordBatchHeader
        {
            BaseOffset = BinaryPrimitives.ReadInt64BigEndian(batch[BaseOffsetOffset..]),
            BatchLength = BinaryPrimitives.ReadInt32BigEndian(batch[BatchLengthOffset..]),
            PartitionLeaderEpoch = BinaryPrimitives.ReadInt32BigEndian(batch[PartitionLeaderEpochOffset..]),
            Magic = (sbyte)batch[MagicOffset],
            Crc = BinaryPrimitives.ReadUInt32BigEndian(batch[CrcOffset..]),
            Attributes = BinaryPrimitives.ReadInt16BigEndian(batch[AttributesOffset..]),
            LastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(batch[LastOffsetDeltaOffset..]),
            BaseTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[BaseTimestampOffset..]),
            MaxTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[MaxTimestampOffset..]),
            ProducerId = BinaryPrimitives.ReadInt64BigEndian(batch[ProducerIdOffset..]),
            ProducerEpoch = BinaryPrimitives.ReadInt16BigEndian(batch[ProducerEpochOffset..]),
            BaseSequence = BinaryPrimitives.ReadInt32BigEndian(batch[BaseSequenceOffset..]),
            RecordCount = BinaryPrimitives.ReadInt32BigEndian(batch[RecordCountOffset..]),
        };
        return true;
    }
}
