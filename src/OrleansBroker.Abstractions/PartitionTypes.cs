namespace OrleansBroker;

/// <summary>Result of appending one record batch to a partition (Kafka's ProduceResponse for one partition).</summary>
/// <param name="Error"><see cref="ErrorCode.None"/> on success, also for a duplicate.</param>
/// <param name="BaseOffset">Offset of the batch's first record; for a duplicate, the offset the original was written at. -1 on error.</param>
/// <param name="Timestamp">The batch's max timestamp, ms since the Unix epoch (the original's for a duplicate). -1 on error.</param>
/// <param name="LogStartOffset">The partition's log start offset after the call.</param>
/// <param name="IsDuplicate">True when the batch matched one of the producer's last 5 batches and nothing was written.</param>
/// <param name="ExpectedSequence">With <see cref="ErrorCode.OutOfOrderSequenceNumber"/>: the base sequence the partition expects next; otherwise -1.</param>
/// <param name="CurrentEpoch">With <see cref="ErrorCode.InvalidProducerEpoch"/>: the producer's current epoch at the partition; otherwise -1.</param>
/// <param name="Message">A one-line reason when <paramref name="Error"/> is not None.</param>
[GenerateSerializer]
[Alias("OrleansBroker.ProduceResult")]
public sealed record ProduceResult(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] long BaseOffset,
    [property: Id(2)] long Timestamp,
    [property: Id(3)] long LogStartOffset,
    [property: Id(4)] bool IsDuplicate,
    [property: Id(5)] int ExpectedSequence,
    [property: Id(6)] short CurrentEpoch,
    [property: Id(7)] string? Message)
{
    /// <summary>Builds a failed result.</summary>
    /// <param name="error">The error.</param>
    /// <param name="message">A one-line reason.</param>
    /// <returns>A result with offsets -1.</returns>
    public static ProduceResult Failed(ErrorCode error, string message) => new(error, -1, -1, -1, false, -1, -1, message);
}

/// <summary>Result of a fetch from one partition (Kafka's FetchResponse for one partition).</summary>
/// <param name="Error"><see cref="ErrorCode.None"/>, <see cref="ErrorCode.OffsetOutOfRange"/> or <see cref="ErrorCode.UnknownTopicOrPartition"/>.</param>
/// <param name="HighWatermark">Offset after the last durable record: a consumer at this offset is caught up.</param>
/// <param name="LogStartOffset">First offset still in the log.</param>
/// <param name="Records">Whole record batches, back to back, in Kafka's v2 format, starting with the batch that holds the fetch offset
/// (so it may begin before it). Empty when caught up. At least one batch when one exists, even past the byte limit (as Kafka's KIP-74).</param>
[GenerateSerializer]
[Alias("OrleansBroker.FetchResult")]
public sealed record FetchResult(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] long HighWatermark,
    [property: Id(2)] long LogStartOffset,
    [property: Id(3)] byte[] Records);

/// <summary>The offsets of a partition (Kafka's ListOffsets for earliest and latest).</summary>
/// <param name="Error"><see cref="ErrorCode.None"/> or <see cref="ErrorCode.UnknownTopicOrPartition"/>.</param>
/// <param name="LogStartOffset">Earliest offset still in the log.</param>
/// <param name="HighWatermark">Offset after the last durable record (the "latest" offset).</param>
/// <param name="LogEndOffset">Offset the next appended record gets.</param>
[GenerateSerializer]
[Alias("OrleansBroker.PartitionOffsets")]
public sealed record PartitionOffsets(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] long LogStartOffset,
    [property: Id(2)] long HighWatermark,
    [property: Id(3)] long LogEndOffset);
