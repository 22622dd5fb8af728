namespace OrleansBroker;

/// <summary>
/// Error codes the broker returns, with Kafka's protocol numbers so a Kafka-protocol endpoint can pass them through
/// unchanged (see Kafka's protocol guide, "Error Codes").
/// </summary>
[GenerateSerializer]
[Alias("OrleansBroker.ErrorCode")]
public enum ErrorCode : short
{
    /// <summary>An unexpected server error (-1, <c>UNKNOWN_SERVER_ERROR</c>). Not retriable.</summary>
    UnknownServerError = -1,

    /// <summary>Success.</summary>
    None = 0,

    /// <summary>The requested offset is outside [log start offset, log end offset] (1). Not retriable: seek.</summary>
    OffsetOutOfRange = 1,

    /// <summary>The batch failed its CRC or its records did not decode (2). Retriable (the bytes may have been damaged in transit).</summary>
    CorruptMessage = 2,

    /// <summary>The topic or partition does not exist (3). Retriable in Kafka (metadata may be stale).</summary>
    UnknownTopicOrPartition = 3,

    /// <summary>The partition is not served here now: activating, recovering, or its writer was fenced (6). Retriable.</summary>
    NotLeaderOrFollower = 6,

    /// <summary>The request did not complete in time (7). Retriable; the write may have happened.</summary>
    RequestTimedOut = 7,

    /// <summary>The batch is larger than the topic's <c>max.message.bytes</c> (10). Not retriable.</summary>
    MessageTooLarge = 10,

    /// <summary>The state needed is still loading (14, <c>COORDINATOR_LOAD_IN_PROGRESS</c>). Retriable.</summary>
    CoordinatorLoadInProgress = 14,

    /// <summary>The topic name is not legal (17, <c>INVALID_TOPIC_EXCEPTION</c>). Not retriable.</summary>
    InvalidTopic = 17,

    /// <summary>The magic byte is not 2 (43, <c>UNSUPPORTED_FOR_MESSAGE_FORMAT</c>). Not retriable.</summary>
    UnsupportedForMessageFormat = 43,

    /// <summary>The topic exists already (36). Not retriable.</summary>
    TopicAlreadyExists = 36,

    /// <summary>The partition count is not legal (37). Not retriable.</summary>
    InvalidPartitions = 37,

    /// <summary>A topic setting is not legal (40). Not retriable.</summary>
    InvalidConfig = 40,

    /// <summary>
    /// The base sequence is not the one expected (45, <c>OUT_OF_ORDER_SEQUENCE_NUMBER</c>). The SDK waits for older
    /// in-flight batches and retries; on the oldest it bumps the epoch (KIP-360).
    /// </summary>
    OutOfOrderSequenceNumber = 45,

    /// <summary>The producer epoch is older than the partition's current one: this producer was fenced (47). Fatal for that producer session.</summary>
    InvalidProducerEpoch = 47,

    /// <summary>The partition's storage failed (56, <c>KAFKA_STORAGE_ERROR</c>). Retriable; nothing was acknowledged.</summary>
    KafkaStorageError = 56,

    /// <summary>The producer id is not known to the registry (59). Not retriable with that id.</summary>
    UnknownProducerId = 59,

    /// <summary>The batch's compression codec is not accepted yet (76). Not retriable.</summary>
    UnsupportedCompressionType = 76,

    /// <summary>A batch header field is inconsistent (87, <c>INVALID_RECORD</c>). Not retriable.</summary>
    InvalidRecord = 87,
}

/// <summary>Classification of <see cref="ErrorCode"/> values.</summary>
public static class ErrorCodeExtensions
{
    /// <summary>True when resending the same request (same PID, epoch and sequence) can succeed, as Kafka's <c>RetriableException</c>.</summary>
    /// <param name="code">The code.</param>
    /// <returns>Whether the error is retriable.</returns>
    public static bool IsRetriable(this ErrorCode code) => code is ErrorCode.CorruptMessage
        or ErrorCode.UnknownTopicOrPartition
        or ErrorCode.NotLeaderOrFollower
        or ErrorCode.RequestTimedOut
        or ErrorCode.CoordinatorLoadInProgress
        or ErrorCode.KafkaStorageError
        or ErrorCode.OutOfOrderSequenceNumber;
}
