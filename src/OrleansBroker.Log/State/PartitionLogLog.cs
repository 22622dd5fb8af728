using Microsoft.Extensions.Logging;

namespace OrleansBroker.Log;

/// <summary>Log messages of <see cref="PartitionLog"/>.</summary>
internal static partial class PartitionLogLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
        Message = "Partition log recovered: offsets {LogStartOffset}..{LogEndOffset} in {SegmentCount} segments ({TruncatedBytes} torn bytes truncated); producer snapshot at offset {SnapshotOffset} ({SnapshotsSkipped} invalid skipped), {BatchesReplayed} batches replayed, {ProducerCount} producers")]
    public static partial void Recovered(ILogger logger, long logStartOffset, long logEndOffset, int segmentCount, long truncatedBytes, long snapshotOffset, int snapshotsSkipped, long batchesReplayed, int producerCount);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning,
        Message = "Producer-state snapshot at offset {SnapshotOffset} ({Length} bytes) is invalid and was skipped; the state is rebuilt from an older snapshot or the log")]
    public static partial void SnapshotSkipped(ILogger logger, long snapshotOffset, int length);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error,
        Message = "The log store failed during {Operation} at log end offset {LogEndOffset}; the partition log is faulted and must be reopened")]
    public static partial void StoreFailed(ILogger logger, Exception exception, string operation, long logEndOffset);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning,
        Message = "Writing the producer-state snapshot at offset {SnapshotOffset} failed after a successful append; it is retried after the next append")]
    public static partial void SnapshotWriteFailed(ILogger logger, Exception exception, long snapshotOffset);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Debug,
        Message = "Producer-state snapshot written at offset {SnapshotOffset}: {ProducerCount} producers, {Length} bytes")]
    public static partial void SnapshotWritten(ILogger logger, long snapshotOffset, int producerCount, int length);
}
