using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Serialization.Invocation;
using OrleansBroker.Log;
using OrleansBroker.Protocol;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// One topic partition (key: partition number + topic name): a thin shell over <see cref="PartitionLog"/>, which applies the append rules.
/// </summary>
/// <remarks>
/// <para>Activation asks the topic catalog whether the topic and partition exist (creating the topic when
/// <see cref="BrokerOptions.AutoCreateTopics"/> is on), then opens the log, which recovers the producer state before any batch is accepted
/// (rule 2). An activation that cannot serve answers every call with a result code and deactivates so the next call activates afresh:
/// <see cref="ErrorCode.UnknownTopicOrPartition"/> for a missing topic or partition, <see cref="ErrorCode.NotLeaderOrFollower"/> when another
/// activation still holds the log's writer lock, <see cref="ErrorCode.KafkaStorageError"/> when storage fails.</para>
/// <para>The produce path calls no other grain (SCENARIOS S7). Produce calls may interleave (<see cref="MayInterleave"/>), so that an
/// idempotent batch that overtook an older batch of its producer in transit (Orleans does not keep the order of grain calls) can wait, up to
/// <see cref="BrokerOptions.ProduceReorderWait"/>, for that batch instead of being refused as out of order
/// (<see cref="WaitForEarlierBatchesAsync"/>). Orleans then lets any call in while a produce call runs (the predicate is asked of the
/// running request too), so the grain is effectively reentrant: every call that reads or changes the log or the producer state (append,
/// fetch, the failure path, producer expiry) takes the log gate, one at a time, in the order the calls reached it. ListOffsets reads only
/// the log's published offsets, without the gate.</para>
/// </remarks>
[MayInterleave(nameof(MayInterleave))]
internal sealed partial class PartitionGrain : Grain, IPartitionGrain, IAsyncDisposable
{
    /// <summary>Batches that may wait for earlier ones at the same time; beyond that, a batch ahead of its sequence is refused at once.</summary>
    private const int MaxReorderWaiters = 32;

    /// <summary>How far ahead of the expected sequence (in records) a batch may be to wait; farther is a real gap, refused at once.</summary>
    private const long MaxReorderDistance = 1 << 30;

    private static readonly byte[] NoRecords = [];

    /// <summary>One call at a time touches the log or the producer state (appends, reads, the failure path, producer expiry), in arrival order.</summary>
    private readonly SemaphoreSlim _logGate = new(1, 1);

    /// <summary>
    /// Per producer id: the epoch and next sequence of its newest batch that is queued at or past the log gate and not yet appended. A batch
    /// that continues it need not wait for the append: the gate keeps their order.
    /// </summary>
    private readonly Dictionary<long, (short Epoch, int NextSequence)> _queuedNext = [];

    /// <summary>Completed (and replaced) when a batch is appended or queued at the gate, or the log fails: waiting batches check again.</summary>
    private TaskCompletionSource? _appendFinished;
    private int _reorderWaiters;

    private readonly ILogStoreFactory _storeFactory;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<PartitionGrain> _logger;

    private string _topic = string.Empty;
    private int _partition = -1;
    private PartitionLog? _log;

    /// <summary>Set when deactivation (or disposal) began: an <see cref="OnActivateAsync"/> still opening the log must close it itself.</summary>
    private volatile bool _closed;
    private IGrainTimer? _expiryTimer;
    private ErrorCode _unavailableError = ErrorCode.NotLeaderOrFollower;
    private string _unavailableMessage = "The partition is not open.";

    public PartitionGrain(ILogStoreFactory storeFactory, IOptions<BrokerOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory, ILogger<PartitionGrain> logger)
    {
        _storeFactory = storeFactory;
        _options = options.Value;
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = logger;
    }

    private string PartitionName => $"{_topic}-{_partition.ToString(CultureInfo.InvariantCulture)}";

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        long key = this.GetPrimaryKeyLong(out string? topic);
        _topic = topic ?? string.Empty;
        if (key is < 0 or > int.MaxValue)
        {
            SetUnknown($"Partition {key} of topic '{_topic}' does not exist.");
            return;
        }

        _partition = (int)key;
        if (!TopicName.IsValid(_topic, out string? reason))
        {
            SetUnknown($"Topic '{_topic}' does not exist: {reason}");
            return;
        }

        TopicDescription? description;
        try
        {
            description = await ResolveTopicAsync();
        }
#pragma warning disable CA1031 // Any failure to reach the catalog makes this activation unavailable (retriable), not broken.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogCatalogUnavailable(_logger, PartitionName, ex);
            SetUnavailable(ErrorCode.NotLeaderOrFollower, $"Partition {PartitionName} could not reach the topic catalog ({ex.GetType().Name}); retry.");
            return;
        }

        if (description is null)
        {
            SetUnknown($"Topic '{_topic}' does not exist.");
            return;
        }

        if (_partition >= description.PartitionCount)
        {
            SetUnknown($"Topic '{_topic}' has {description.PartitionCount} partition{(description.PartitionCount == 1 ? "" : "s")}; partition {_partition} does not exist.");
            return;
        }

        PartitionLogOptions logOptions = CreateLogOptions(description.Settings);
        try
        {
            // From OpenAsync on, the log owns the store and disposes it when opening fails.
            ILogStore store = _storeFactory.Create(_topic, _partition, logOptions);
            PartitionLog opened = await PartitionLog.OpenAsync(store, logOptions, _timeProvider, _loggerFactory.CreateLogger<PartitionLog>(), cancellationToken);

            // A full fence, not a plain store: the check of _closed below must not be ordered before it, or a DisposeAsync running
            // at the same time on another thread (sets _closed, then exchanges _log) and this method could both miss the log.
            Interlocked.Exchange(ref _log, opened);
        }
        catch (LogFencedException ex)
        {
            LogFenced(_logger, PartitionName, ex);
            SetUnavailable(ErrorCode.NotLeaderOrFollower, $"Partition {PartitionName} is still held by another writer; retry.");
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogOpenFailed(_logger, PartitionName, ex);
            SetUnavailable(ErrorCode.KafkaStorageError, $"Partition {PartitionName} could not open its log ({ex.Message}); retry.");
            return;
        }

        if (_closed || cancellationToken.IsCancellationRequested)
        {
            // Orleans gave up on this activation while the log was opening (silo shutting down, activation timeout): it stops awaiting
            // OnActivateAsync (WaitAsync on the token), so this method runs on unobserved, and OnDeactivateAsync may already have run or
            // never run. Nothing else would close this log, and its writer lock would keep every later activation out
            // (NotLeaderOrFollower) until the process ends.
            LogActivationAbandoned(_logger, PartitionName);
            if (Interlocked.Exchange(ref _log, null) is { } abandoned)
            {
                await DisposeQuietlyAsync(abandoned);
            }

            SetUnavailable(ErrorCode.NotLeaderOrFollower, $"Partition {PartitionName} is deactivating; retry.");
            return;
        }

        TimeSpan interval = _options.ProducerExpirationCheckInterval;
        _expiryTimer = this.RegisterGrainTimer(
            static (grain, _) => grain.RemoveExpiredProducersAsync(),
            this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = false, KeepAlive = false });
        LogOpened(_logger, PartitionName, _log.LogStartOffset, _log.LogEndOffset, _log.ProducerState.ProducerCount);
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _closed = true;
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        if (Interlocked.Exchange(ref _log, null) is { } log)
        {
            try
            {
                // Checkpoint (flush + producer-state snapshot) and release the writer lock.
                await log.DisposeAsync();
                LogClosed(_logger, PartitionName, reason.Description);
            }
#pragma warning disable CA1031 // Deactivation must complete; recovery on the next activation rebuilds whatever the checkpoint missed.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogCloseFailed(_logger, PartitionName, ex);
            }
        }
    }

    /// <summary>
    /// Closes the log if <see cref="OnDeactivateAsync"/> did not: Orleans disposes every activation's grain instance, but calls
    /// <c>OnDeactivateAsync</c> only for one that finished activating, and an activation cancelled while its log was opening may still hold it.
    /// </summary>
    /// <returns>A task that completes when the log is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        _closed = true;
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        if (Interlocked.Exchange(ref _log, null) is { } log)
        {
            await DisposeQuietlyAsync(log);
        }
    }

    /// <summary>Orleans' interleaving predicate: produce calls may run while other calls of this grain wait (see the remarks).</summary>
    /// <param name="request">The incoming call.</param>
    /// <returns>True for <see cref="IPartitionGrain.ProduceAsync"/>.</returns>
    public static bool MayInterleave(IInvokable request) =>
        request.GetInterfaceType() == typeof(IPartitionGrain) && request.GetMethodName() == nameof(IPartitionGrain.ProduceAsync);

    /// <inheritdoc />
    public async Task<ProduceResult> ProduceAsync(BatchBytes batch)
    {
        try
        {
            if (_log is null)
            {
                DeactivateOnIdle();
                return ProduceResult.Failed(_unavailableError, _unavailableMessage);
            }

            if (batch.Length == 0)
            {
                return ProduceResult.Failed(ErrorCode.CorruptMessage, "The request carried no record batch.");
            }

            bool idempotent = RecordBatchHeader.TryRead(batch.Memory.Span, out RecordBatchHeader header) && header.HasProducerId;
            if (idempotent)
            {
                await WaitForEarlierBatchesAsync(header);
            }

            return await AppendAsync(batch, idempotent ? header : null);
        }
        finally
        {
            // The log keeps nothing of the bytes once the append returned (it wrote them): the pooled buffer goes back.
            batch.Return();
        }
    }

    /// <param name="batch">The batch.</param>
    /// <param name="header">Its header (read unchecked) when it carries a producer id: recorded as queued while it waits at the gate.</param>
    private async Task<ProduceResult> AppendAsync(BatchBytes batch, RecordBatchHeader? header)
    {
        // Take a place in the gate's queue first: a batch that follows this one may run as soon as it is told this one is queued (the
        // wake-up can run it inline), and must then queue behind it.
        Task entered = _logGate.WaitAsync();
        (short Epoch, int NextSequence) queued = default;
        if (header is { } h)
        {
            queued = (h.ProducerEpoch, RecordBatchHeader.IncrementSequence(h.LastSequence, 1));
            _queuedNext[h.ProducerId] = queued;
            SignalWaiters();
        }

        await entered;
        try
        {
            if (_log is not { } log)
            {
                DeactivateOnIdle();
                return ProduceResult.Failed(_unavailableError, _unavailableMessage);
            }

            LogAppendResult result;
            try
            {
                // The call's own bytes (read into a pooled buffer, or the caller's array in a call inside this silo): no further copy.
                result = await log.AppendAsync(batch.GetWritableMemory());
            }
            catch (Exception ex) when (ex is IOException || (ex is InvalidOperationException && log.IsFaulted))
            {
                ErrorCode code = await FailAsync(log, ex);
                return ProduceResult.Failed(code, _unavailableMessage);
            }

            return Map(result, log.LogStartOffset);
        }
        finally
        {
            _logGate.Release();
            if (header is { } appended && _queuedNext.TryGetValue(appended.ProducerId, out var newest) && newest == queued)
            {
                _queuedNext.Remove(appended.ProducerId);
            }

            SignalWaiters();
        }
    }

    /// <summary>Wakes the batches waiting in <see cref="WaitForEarlierBatchesAsync"/> so they check again.</summary>
    private void SignalWaiters()
    {
        if (_appendFinished is { } finished)
        {
            _appendFinished = null;
            finished.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async Task<FetchResult> FetchAsync(long offset, int maxBytes)
    {
        await _logGate.WaitAsync();
        try
        {
            if (_log is not { } log)
            {
                DeactivateOnIdle();
                return new FetchResult(_unavailableError, -1, -1, NoRecords);
            }

            ReadOnlyMemory<byte>? records;
            try
            {
                records = await log.ReadAsync(offset, Math.Max(1, maxBytes));
            }
            catch (Exception ex) when (ex is IOException || (ex is InvalidOperationException && log.IsFaulted))
            {
                ErrorCode code = await FailAsync(log, ex);
                return new FetchResult(code, -1, -1, NoRecords);
            }

            return records is { } bytes
                ? new FetchResult(ErrorCode.None, log.HighWatermark, log.LogStartOffset, ToArray(bytes))
                : new FetchResult(ErrorCode.OffsetOutOfRange, log.HighWatermark, log.LogStartOffset, NoRecords);
        }
        finally
        {
            _logGate.Release();
        }
    }

    /// <summary>
    /// Holds an idempotent batch that arrived ahead of its producer's next sequence (same producer id and epoch, or the first sequence of a
    /// newer epoch) until the batches before it are appended, at most <see cref="BrokerOptions.ProduceReorderWait"/>: the producer sent
    /// them first, and they overtook each other on the way. Checks again after every append; returns when the batch is no longer ahead
    /// (the append then decides, with every rule), when the time is up or the log is gone (it is then refused as before), and at once for
    /// a producer the partition does not know, for a batch that continues one already queued at the log gate (the gate keeps their order),
    /// or when <see cref="MaxReorderWaiters"/> already wait. The header is read unchecked: it only decides whether to wait; the append
    /// validates the batch.
    /// </summary>
    /// <param name="header">The batch's header; it carries a producer id.</param>
    private async ValueTask WaitForEarlierBatchesAsync(RecordBatchHeader header)
    {
        TimeSpan limit = _options.ProduceReorderWait;
        if (limit <= TimeSpan.Zero || _reorderWaiters >= MaxReorderWaiters)
        {
            return;
        }

        long started = _timeProvider.GetTimestamp();
        _reorderWaiters++;
        try
        {
            while (_log is { IsFaulted: false } log
                && !ContinuesQueuedBatch(header)
                && IsAheadOfExpected(log.ProducerState.CheckAppend(header), header.BaseSequence))
            {
                TimeSpan remaining = limit - _timeProvider.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    return;
                }

                _appendFinished ??= new TaskCompletionSource();
                try
                {
                    await _appendFinished.Task.WaitAsync(remaining, _timeProvider);
                }
                catch (TimeoutException)
                {
                    return;
                }
            }
        }
        finally
        {
            _reorderWaiters--;
        }
    }

    /// <summary>Whether the batch's producer has a batch queued at the log gate that this one directly follows (same epoch, next sequence).</summary>
    private bool ContinuesQueuedBatch(in RecordBatchHeader header) =>
        _queuedNext.TryGetValue(header.ProducerId, out var queued) && queued.Epoch == header.ProducerEpoch && queued.NextSequence == header.BaseSequence;

    /// <summary>Whether the check refused the batch as out of order because its base sequence lies ahead of the expected one (with wrap).</summary>
    internal static bool IsAheadOfExpected(AppendCheck check, int baseSequence)
    {
        if (check.Kind != AppendCheckKind.OutOfOrderSequence || check.ExpectedSequence < 0 || baseSequence < 0)
        {
            return false;
        }

        long distance = (long)baseSequence - check.ExpectedSequence;
        if (distance < 0)
        {
            distance += (long)int.MaxValue + 1;
        }

        return distance is > 0 and < MaxReorderDistance;
    }

    /// <inheritdoc />
    public Task<PartitionOffsets> ListOffsetsAsync()
    {
        if (_log is not { } log)
        {
            DeactivateOnIdle();
            return Task.FromResult(new PartitionOffsets(_unavailableError, -1, -1, -1));
        }

        return Task.FromResult(new PartitionOffsets(ErrorCode.None, log.LogStartOffset, log.HighWatermark, log.LogEndOffset));
    }

    /// <summary>The topic's description; with <c>Broker:AutoCreateTopics</c> the catalog creates a missing topic first (it logs that).</summary>
    private async Task<TopicDescription?> ResolveTopicAsync()
    {
        TopicResult result = await GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).GetTopicMetadataAsync(_topic, allowAutoTopicCreation: true);
        return result.Error == ErrorCode.None ? result.Topic : null;
    }

    private PartitionLogOptions CreateLogOptions(TopicSettings settings) => new()
    {
        MaxMessageBytes = settings.MaxMessageBytes,
        SegmentBytes = settings.SegmentBytes,
        FlushMessages = settings.FlushMessages,
        FlushInterval = settings.FlushMs is long ms ? TimeSpan.FromMilliseconds(ms) : null,
        ProducerIdExpiration = _options.ProducerIdExpiration,
    };

    /// <summary>The log failed: close it, answer retriable errors until the grain is gone, and deactivate so the next activation recovers.</summary>
    private async Task<ErrorCode> FailAsync(PartitionLog log, Exception ex)
    {
        ErrorCode code = ex is LogFencedException ? ErrorCode.NotLeaderOrFollower : ErrorCode.KafkaStorageError;
        LogStorageFailed(_logger, PartitionName, code, ex);
        _log = null;
        SignalWaiters(); // batches waiting for earlier ones are answered now (retriable), not when their wait is up
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        await DisposeQuietlyAsync(log);
        SetUnavailable(code, code == ErrorCode.NotLeaderOrFollower
            ? $"Partition {PartitionName} lost its writer lock; retry."
            : $"Partition {PartitionName} storage failed ({ex.Message}); retry: the partition recovers on its next activation.");
        return code;
    }

    private async Task RemoveExpiredProducersAsync()
    {
        // Through the gate: an append between its producer-state check and update must not see its producer removed in between.
        await _logGate.WaitAsync();
        try
        {
            if (_log is { IsFaulted: false } log)
            {
                int removed = log.RemoveExpiredProducers();
                if (removed > 0)
                {
                    LogExpired(_logger, PartitionName, removed);
                }
            }
        }
        finally
        {
            _logGate.Release();
        }
    }

    private void SetUnknown(string message)
    {
        LogUnknown(_logger, _topic, _partition, message);
        SetUnavailable(ErrorCode.UnknownTopicOrPartition, message);
    }

    private void SetUnavailable(ErrorCode code, string message)
    {
        _unavailableError = code;
        _unavailableMessage = message;
    }

    private async ValueTask DisposeQuietlyAsync(PartitionLog log)
    {
        try
        {
            await log.DisposeAsync();
        }
#pragma warning disable CA1031 // Best effort: the resource is being abandoned after a failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogCloseFailed(_logger, PartitionName, ex);
        }
    }

    private static ProduceResult Map(LogAppendResult result, long logStartOffset)
    {
        return result.Status switch
        {
            AppendStatus.Appended => new ProduceResult(ErrorCode.None, result.BaseOffset, result.Timestamp, logStartOffset, IsDuplicate: false, -1, -1, null),
            AppendStatus.Duplicate => new ProduceResult(ErrorCode.None, result.BaseOffset, result.Timestamp, logStartOffset, IsDuplicate: true, -1, -1, null),
            AppendStatus.InvalidProducerEpoch => Error(ErrorCode.InvalidProducerEpoch, "The producer epoch is older than the partition's current one (fenced).", currentEpoch: result.CurrentEpoch),
            AppendStatus.OutOfOrderSequence => Error(ErrorCode.OutOfOrderSequenceNumber, $"Out of order sequence number; expected {result.ExpectedSequence}.", expectedSequence: result.ExpectedSequence),
            AppendStatus.CorruptMessage => Error(ErrorCode.CorruptMessage, "The record batch failed its CRC or did not decode."),
            AppendStatus.MessageTooLarge => Error(ErrorCode.MessageTooLarge, "The record batch is larger than the topic's max.message.bytes."),
            AppendStatus.UnsupportedCompression => Error(ErrorCode.UnsupportedCompressionType, "The record batch's compression codec is not accepted."),
            AppendStatus.UnsupportedMagic => Error(ErrorCode.UnsupportedForMessageFormat, "The record batch's magic byte is not 2."),
            AppendStatus.InvalidRecord => Error(ErrorCode.InvalidRecord, "A record batch header field is inconsistent."),
            _ => Error(ErrorCode.UnknownServerError, $"Unexpected append status {result.Status}."),
        };

        ProduceResult Error(ErrorCode code, string fallback, int expectedSequence = -1, short currentEpoch = -1) =>
            new(code, -1, -1, logStartOffset, false, expectedSequence, currentEpoch, result.Message ?? fallback);
    }

    private static byte[] ToArray(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment) && segment.Array is { } array && segment.Offset == 0 && segment.Count == array.Length
            ? array
            : bytes.ToArray();

    [LoggerMessage(1, LogLevel.Debug, "Partition {Partition} opened: log start offset {LogStartOffset}, log end offset {LogEndOffset}, {ProducerCount} producers recovered")]
    private static partial void LogOpened(ILogger logger, string partition, long logStartOffset, long logEndOffset, int producerCount);

    [LoggerMessage(2, LogLevel.Debug, "Partition {Partition} of topic {Topic} is unknown: {Reason}")]
    private static partial void LogUnknown(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Partition {Partition} is held by another writer; answering NotLeaderOrFollower until reactivated")]
    private static partial void LogFenced(ILogger logger, string partition, Exception exception);

    [LoggerMessage(4, LogLevel.Error, "Partition {Partition} could not open its log; answering KafkaStorageError until reactivated")]
    private static partial void LogOpenFailed(ILogger logger, string partition, Exception exception);

    [LoggerMessage(5, LogLevel.Error, "Partition {Partition} storage failed ({Error}); closing the log and deactivating")]
    private static partial void LogStorageFailed(ILogger logger, string partition, ErrorCode error, Exception exception);

    [LoggerMessage(6, LogLevel.Debug, "Partition {Partition} closed ({Reason})")]
    private static partial void LogClosed(ILogger logger, string partition, string reason);

    [LoggerMessage(7, LogLevel.Warning, "Partition {Partition} could not close its log cleanly; the next activation recovers from storage")]
    private static partial void LogCloseFailed(ILogger logger, string partition, Exception exception);

    [LoggerMessage(8, LogLevel.Debug, "Partition {Partition} removed {Count} expired producers")]
    private static partial void LogExpired(ILogger logger, string partition, int count);

    [LoggerMessage(9, LogLevel.Warning, "Partition {Partition} could not reach the topic catalog")]
    private static partial void LogCatalogUnavailable(ILogger logger, string partition, Exception exception);

    [LoggerMessage(12, LogLevel.Information, "Partition {Partition}: the activation was cancelled while its log was opening; closing the log")]
    private static partial void LogActivationAbandoned(ILogger logger, string partition);
}
