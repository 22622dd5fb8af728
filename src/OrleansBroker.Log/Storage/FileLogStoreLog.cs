using Microsoft.Extensions.Logging;

namespace OrleansBroker.Log.Storage;

/// <summary>Log messages of <see cref="FileLogStore"/> (event ids 1200–1219).</summary>
internal static partial class FileLogStoreLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information,
        Message = "Recovered partition log {Directory}: {SegmentCount} segments, log start offset {LogStartOffset}, log end offset {LogEndOffset}, {TruncatedBytes} bytes truncated")]
    public static partial void Recovered(this ILogger logger, string directory, int segmentCount, long logStartOffset, long logEndOffset, long truncatedBytes);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning,
        Message = "Truncated {TruncatedBytes} bytes from {Path} at position {Position} ({Reason}); the log ends at offset {LogEndOffset}")]
    public static partial void TailTruncated(this ILogger logger, string path, long position, long truncatedBytes, string reason, long logEndOffset);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Rebuilt offset index {Path} ({EntryCount} entries)")]
    public static partial void IndexRebuilt(this ILogger logger, string path, int entryCount);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Debug, Message = "Rolled partition log {Directory} to segment {BaseOffset}")]
    public static partial void SegmentRolled(this ILogger logger, string directory, long baseOffset);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Error, Message = "Storage failure in partition log {Directory}; the store refuses further appends")]
    public static partial void StorageFailed(this ILogger logger, string directory, Exception exception);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Debug, Message = "Deleted {Path}: {Reason}")]
    public static partial void FileDeleted(this ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Could not delete {Path}")]
    public static partial void DeleteFailed(this ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Debug, Message = "Wrote producer-state snapshot {Path} ({Bytes} bytes)")]
    public static partial void SnapshotWritten(this ILogger logger, string path, int bytes);
}
