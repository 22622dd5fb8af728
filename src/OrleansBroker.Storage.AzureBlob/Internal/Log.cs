using Microsoft.Extensions.Logging;

namespace OrleansBroker.Storage.AzureBlob.Internal;

/// <summary>The store's log messages.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Opened Azure log {Prefix}: offsets [{LogStartOffset}, {LogEndOffset}) in {SegmentCount} segments, {TruncatedBytes} torn bytes cut, writer {WriterId}")]
    public static partial void Opened(ILogger logger, string prefix, long logStartOffset, long logEndOffset, int segmentCount, long truncatedBytes, string writerId);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "Azure log {Prefix}: segment {BaseOffset} has {TruncatedBytes} invalid bytes after position {ValidLength}; sealed there and continuing in a new segment")]
    public static partial void TornTail(ILogger logger, string prefix, long baseOffset, long truncatedBytes, long validLength);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Azure log {Prefix}: rolled to segment {BaseOffset}")]
    public static partial void Rolled(ILogger logger, string prefix, long baseOffset);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Azure log {Prefix}: renewing the writer lease failed; will retry")]
    public static partial void RenewFailed(ILogger logger, Exception exception, string prefix);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Azure log {Prefix}: the writer lease was lost ({ErrorCode}); this store is fenced")]
    public static partial void LeaseLost(ILogger logger, string prefix, string? errorCode);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Azure log {Prefix}: another writer changed the log ({ErrorCode}); this store is fenced")]
    public static partial void Fenced(ILogger logger, string prefix, string? errorCode);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Azure log {Prefix}: releasing the writer lease failed; it expires by itself")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string prefix);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Azure log {Prefix}: open attempt {Attempt} raced with another writer ({ErrorCode}); retrying")]
    public static partial void OpenRaced(ILogger logger, string prefix, int attempt, string? errorCode);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Azure log {Prefix}: index blob of segment {BaseOffset} missing or damaged; rebuilding it by scanning")]
    public static partial void IndexRebuilt(ILogger logger, string prefix, long baseOffset);
}
