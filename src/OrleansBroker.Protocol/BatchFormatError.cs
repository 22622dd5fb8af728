namespace OrleansBroker.Protocol;

/// <summary>Why a record batch's bytes were refused by <see cref="RecordBatch.Validate"/>.</summary>
public enum BatchFormatError
{
    /// <summary>The batch is well formed.</summary>
    None = 0,

    /// <summary>Fewer bytes than the 61-byte v2 header, or <c>batchLength</c> disagrees with the bytes given.</summary>
    InvalidLength,

    /// <summary>The magic byte is not 2. Kafka error <c>UNSUPPORTED_FOR_MESSAGE_FORMAT</c> (43).</summary>
    UnsupportedMagic,

    /// <summary>The CRC-32C over bytes [21, end) does not match. Kafka error <c>CORRUPT_MESSAGE</c> (2).</summary>
    CrcMismatch,

    /// <summary>The batch is larger than the topic's maximum batch size. Kafka error <c>MESSAGE_TOO_LARGE</c> (10).</summary>
    TooLarge,

    /// <summary>The attributes name a compression codec the broker does not accept yet. Kafka error <c>UNSUPPORTED_COMPRESSION_TYPE</c> (76).</summary>
    UnsupportedCompression,

    /// <summary>
    /// A header field is inconsistent: record count below 1, <c>lastOffsetDelta != recordCount - 1</c>,
    /// a negative base sequence from an idempotent producer, a producer id without an epoch, or
    /// a control batch from a producer. Kafka error <c>INVALID_RECORD</c> (87).
    /// </summary>
    InvalidHeader,

    /// <summary>The records section does not decode to exactly <c>recordCount</c> records. Kafka error <c>CORRUPT_MESSAGE</c> (2).</summary>
    InvalidRecords,
}
