using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Client.Internal;
using OrleansBroker.Protocol;

namespace OrleansBroker.Client;

/// <summary>
/// Reads records from explicitly assigned topic partitions (Kafka's consumer with <c>assign</c>, no group management).
/// Each partition is read in offset order; <see cref="ConsumeAsync"/> visits the assigned partitions in turn and keeps one
/// fetch ahead per partition.
/// </summary>
/// <remarks>
/// <see cref="Assign(IEnumerable{TopicPartitionOffset})"/>, <see cref="Seek"/> and <see cref="Position"/> may be called from any thread, also while
/// <see cref="ConsumeAsync"/> runs; a seek takes effect before the next record of that partition is returned.
/// Only one <see cref="ConsumeAsync"/> enumeration should run at a time.
/// </remarks>
public sealed partial class Consumer : IAsyncDisposable
{
    private readonly IBrokerTransport _transport;
    private readonly ConsumerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _sync = new();
    private readonly List<Cursor> _cursors = [];
    private bool _disposed;

    internal Consumer(IBrokerTransport transport, ConsumerOptions? options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        options ??= ConsumerOptions.Default;
        options.Validate();
        _transport = transport;
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Consumer>();
    }

    /// <summary>The options in use.</summary>
    public ConsumerOptions Options => _options;

    /// <summary>The assigned partitions, in assignment order.</summary>
    public IReadOnlyList<TopicPartition> Assignment
    {
        get
        {
            lock (_sync)
            {
                return [.. _cursors.Select(c => c.TopicPartition)];
            }
        }
    }

    /// <summary>
    /// Replaces the assignment (Kafka's <c>assign</c>). Each partition starts at its offset: a number, <see cref="Offset.Beginning"/>
    /// (the log start offset) or <see cref="Offset.End"/> (the high watermark), resolved when it is first fetched.
    /// </summary>
    /// <param name="partitions">Partitions and start offsets; a partition given twice keeps the last offset.</param>
    /// <exception cref="ArgumentException">A topic name is invalid, a partition is negative, or an offset is a special value other than Beginning/End.</exception>
    /// <exception cref="ObjectDisposedException">The consumer was disposed.</exception>
    public void Assign(IEnumerable<TopicPartitionOffset> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var cursors = new List<Cursor>();
        foreach (TopicPartitionOffset tpo in partitions)
        {
            CheckStart(tpo);
            cursors.RemoveAll(c => c.TopicPartition == tpo.TopicPartition);
            cursors.Add(new Cursor(tpo.TopicPartition, tpo.Offset));
        }

        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (Cursor c in _cursors)
            {
                c.Version++;
            }

            _cursors.Clear();
            _cursors.AddRange(cursors);
        }
    }

    /// <summary>Assigns one partition at an offset (replacing the assignment).</summary>
    /// <param name="partition">Partition and start offset.</param>
    public void Assign(TopicPartitionOffset partition) => Assign([partition]);

    /// <summary>Removes every partition.</summary>
    public void Unassign() => Assign([]);

    /// <summary>Moves an assigned partition's position; the next record returned for it is at <see cref="TopicPartitionOffset.Offset"/>.</summary>
    /// <param name="position">Partition and new offset (a number, <see cref="Offset.Beginning"/> or <see cref="Offset.End"/>).</param>
    /// <exception cref="InvalidOperationException">The partition is not assigned.</exception>
    public void Seek(TopicPartitionOffset position)
    {
        CheckStart(position);
        lock (_sync)
        {
            Cursor c = _cursors.Find(x => x.TopicPartition == position.TopicPartition)
                ?? throw new InvalidOperationException($"{position.TopicPartition} is not assigned.");
            c.Version++;
            c.Delivering = null;
            c.Requested = position.Offset;
            c.Position = position.Offset.IsSpecial ? -1 : position.Offset.Value;
            c.Prefetch = null;
            c.EofReported = false;
        }
    }

    /// <summary>The offset of the next record to be returned for a partition (Kafka's <c>position</c>).</summary>
    /// <param name="partition">The partition.</param>
    /// <returns>The position; <see cref="Offset.Beginning"/> or <see cref="Offset.End"/> while not yet resolved; <see cref="Offset.Unset"/> when not assigned.</returns>
    public Offset Position(TopicPartition partition)
    {
        lock (_sync)
        {
            Cursor? c = _cursors.Find(x => x.TopicPartition == partition);
            if (c is null)
            {
                return Offset.Unset;
            }

            long position = DeliveredPositionLocked(c);
            return position >= 0 ? new Offset(position) : c.Requested;
        }
    }

    /// <summary>Reads a partition's log start offset and high watermark (Kafka's <c>ListOffsets</c>, Confluent's <c>QueryWatermarkOffsets</c>).</summary>
    /// <param name="partition">The partition (need not be assigned).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The offsets.</returns>
    /// <exception cref="ConsumeException">The partition does not exist, or the call failed (<see cref="ErrorCode.RequestTimedOut"/>).</exception>
    public async Task<WatermarkOffsets> QueryWatermarkOffsetsAsync(TopicPartition partition, CancellationToken cancellationToken = default)
    {
        PartitionOffsets offsets;
        try
        {
            offsets = await CallFaults.WithDeadline(_transport.ListOffsetsAsync(partition.Topic, partition.Partition), _options.RequestTimeout, _time, _transport, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && CallFaults.IsTransient(ex))
        {
            throw new ConsumeException(ErrorCode.RequestTimedOut, $"Listing the offsets of {partition} failed: {ex.Message}", ex, partition);
        }

        if (offsets.Error != ErrorCode.None)
        {
            throw new ConsumeException(offsets.Error, $"Listing the offsets of {partition} failed: {offsets.Error}.", null, partition);
        }

        return new WatermarkOffsets(offsets.LogStartOffset, offsets.HighWatermark);
    }

    /// <summary>
    /// Returns the records of the assigned partitions as they arrive, each partition in offset order, until
    /// <paramref name="cancellationToken"/> is cancelled. When every partition is caught up it polls again after
    /// <see cref="ConsumerOptions.FetchWaitMaxMs"/>.
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The records, and partition-end markers when <see cref="ConsumerOptions.EnablePartitionEof"/> is set.</returns>
    /// <exception cref="ConsumeException"><see cref="ErrorCode.OffsetOutOfRange"/> (with <see cref="AutoOffsetReset.Error"/>),
    /// <see cref="ErrorCode.UnknownTopicOrPartition"/>, <see cref="ErrorCode.CorruptMessage"/>, or transient failures for longer than
    /// <see cref="ConsumerOptions.FetchRetryTimeout"/> (<see cref="ErrorCode.RequestTimedOut"/>).</exception>
    public async IAsyncEnumerable<ConsumeResult> ConsumeAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Cursor[] cursors;
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                cursors = [.. _cursors];
            }

            bool progressed = false;
            bool failed = false;
            foreach (Cursor c in cursors)
            {
                Poll poll = await PollAsync(c, cancellationToken).ConfigureAwait(false);
                failed |= poll.Failed;
                progressed |= poll.Moved;
                // The position moves record by record without taking the lock: the cursor knows which poll it is handing out and how
                // many of its records went (Delivered); Position() and the next poll fold that in (FoldDeliveredLocked).
                lock (_sync)
                {
                    if (c.Version == poll.Version && poll.Records.Count > 0)
                    {
                        c.Delivering = poll;
                        c.Delivered = 0;
                    }
                }

                for (int i = 0; i < poll.Records.Count; i++)
                {
                    if (Volatile.Read(ref c.Version) != poll.Version)
                    {
                        break;
                    }

                    Volatile.Write(ref c.Delivered, i + 1);
                    progressed = true;
                    yield return poll.Records[i];
                }

                bool eof;
                lock (_sync)
                {
                    if (c.Version != poll.Version)
                    {
                        continue;
                    }

                    FoldDeliveredLocked(c);

                    if (poll.NextPosition > c.Position)
                    {
                        c.Position = poll.NextPosition;
                        progressed = true;
                    }

                    if (poll.Records.Count > 0)
                    {
                        c.EofReported = false;
                    }

                    eof = poll.CaughtUp && _options.EnablePartitionEof && !c.EofReported;
                    if (eof)
                    {
                        c.EofReported = true;
                    }
                }

                if (eof)
                {
                    yield return new ConsumeResult
                    {
                        Topic = c.TopicPartition.Topic,
                        Partition = c.TopicPartition.Partition,
                        Offset = poll.NextPosition,
                        Timestamp = DateTimeOffset.UnixEpoch,
                        IsPartitionEof = true,
                    };
                }
            }

            if (!progressed)
            {
                TimeSpan wait = TimeSpan.FromMilliseconds(_options.FetchWaitMaxMs);
                if (failed && _options.RetryBackoff > wait)
                {
                    wait = _options.RetryBackoff;
                }

                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops the consumer; a running enumeration ends at its next step with <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        lock (_sync)
        {
            _disposed = true;
            foreach (Cursor c in _cursors)
            {
                c.Version++;
                c.Prefetch = null;
            }

            _cursors.Clear();
        }

        return ValueTask.CompletedTask;
    }

    private static void CheckStart(TopicPartitionOffset tpo)
    {
        if (!TopicName.IsValid(tpo.Topic, out string? reason))
        {
            throw new ArgumentException(reason, nameof(tpo));
        }

        if (tpo.Partition < 0)
        {
            throw new ArgumentException($"Partition {tpo.Partition} is negative.", nameof(tpo));
        }

        if (tpo.Offset.IsSpecial && tpo.Offset != Offset.Beginning && tpo.Offset != Offset.End)
        {
            throw new ArgumentException($"Offset {tpo.Offset} is not a start position: use a number, Offset.Beginning or Offset.End.", nameof(tpo));
        }
    }

    /// <summary>One fetch round for one partition: records at or after the position, and where to continue.</summary>
    private async Task<Poll> PollAsync(Cursor c, CancellationToken cancellationToken)
    {
        long position;
        int version;
        Offset requested;
        Task<FetchResult>? prefetch = null;
        lock (_sync)
        {
            FoldDeliveredLocked(c);
            position = c.Position;
            version = c.Version;
            requested = c.Requested;
            if (c.Prefetch is { } p && c.PrefetchOffset == position && position >= 0)
            {
                prefetch = p;
            }

            c.Prefetch = null;
        }

        TopicPartition tp = c.TopicPartition;
        try
        {
            if (position < 0)
            {
                PartitionOffsets offsets = await CallFaults.WithDeadline(_transport.ListOffsetsAsync(tp.Topic, tp.Partition), _options.RequestTimeout, _time, _transport, cancellationToken).ConfigureAwait(false);
                if (offsets.Error != ErrorCode.None)
                {
                    return Failure(c, version, offsets.Error, $"Listing the offsets of {tp} failed: {offsets.Error}.", null);
                }

                position = requested == Offset.Beginning ? offsets.LogStartOffset : offsets.HighWatermark;
                lock (_sync)
                {
                    if (c.Version != version)
                    {
                        return Poll.Empty(version);
                    }

                    c.Position = position;
                }
            }

            FetchResult result = await (prefetch ?? StartFetch(tp, position)).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result.Error == ErrorCode.OffsetOutOfRange && _options.AutoOffsetReset != AutoOffsetReset.Error)
            {
                long reset = _options.AutoOffsetReset == AutoOffsetReset.Earliest ? result.LogStartOffset : result.HighWatermark;
                LogOffsetReset(tp, position, reset);
                lock (_sync)
                {
                    if (c.Version == version)
                    {
                        c.Position = reset;
                    }
                }

                return Poll.Empty(version) with { Moved = true };
            }

            if (result.Error != ErrorCode.None)
            {
                string detail = result.Error != ErrorCode.OffsetOutOfRange ? string.Empty
                    : result.HighWatermark > result.LogStartOffset
                        ? $" The partition holds offsets {result.LogStartOffset} to {result.HighWatermark - 1} (log start offset {result.LogStartOffset}, high watermark {result.HighWatermark}); set AutoOffsetReset or assign an offset in that range."
                        : $" The partition holds no record (log start offset = high watermark = {result.HighWatermark}); set AutoOffsetReset or assign offset {result.HighWatermark}.";
                return Failure(c, version, result.Error, $"Fetching {tp} at offset {position} failed: {result.Error}.{detail}", null, position);
            }

            c.FailingSince = null;
            List<ConsumeResult> records;
            long next = position;
            try
            {
                // Sized once from the batch headers (a record takes at least 7 bytes), not grown record by record.
                long expected = 0;
                foreach ((RecordBatchHeader header, ReadOnlyMemory<byte> _) in RecordBatchReader.ReadBatches(result.Records))
                {
                    expected += Math.Max(0, header.RecordCount);
                }

                records = new List<ConsumeResult>((int)Math.Min(expected, result.Records.Length / 7));
                long previousEnd = -1;
                foreach ((RecordBatchHeader header, ReadOnlyMemory<byte> bytes) in RecordBatchReader.ReadBatches(result.Records))
                {
                    // Data corrupted at rest or in transit must not reach the application (Kafka's check.crcs). The base offset is
                    // outside the CRC, so also check that batches follow on and stay below the high watermark.
                    if (_options.CheckCrcs && !RecordBatch.IsCrcValid(bytes.Span))
                    {
                        throw new InvalidDataException($"the batch at offset {header.BaseOffset} failed its CRC-32C check");
                    }

                    if ((previousEnd < 0 ? header.BaseOffset > position : header.BaseOffset != previousEnd) || header.LastOffset >= result.HighWatermark)
                    {
                        throw new InvalidDataException(
                            $"a batch claims offsets {header.BaseOffset}-{header.LastOffset}, which do not follow on from {(previousEnd < 0 ? position : previousEnd)} below the high watermark {result.HighWatermark}");
                    }

                    previousEnd = header.LastOffset + 1;
                    if (header.LastOffset >= position && !header.IsControl)
                    {
                        // Straight from the fetched bytes to the results: no intermediate record objects.
                        foreach (RecordView r in RecordBatchReader.EnumerateRecords(bytes))
                        {
                            if (r.Offset >= position)
                            {
                                records.Add(new ConsumeResult
                                {
                                    Topic = tp.Topic,
                                    Partition = tp.Partition,
                                    Offset = r.Offset,
                                    Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(r.Timestamp),
                                    Key = r.Key?.ToArray(),
                                    Value = r.Value?.ToArray(),
                                    Headers = r.ReadHeaders(),
                                });
                            }
                        }
                    }

                    next = Math.Max(next, header.LastOffset + 1);
                }
            }
            catch (InvalidDataException ex)
            {
                throw new ConsumeException(ErrorCode.CorruptMessage, $"A batch fetched from {tp} at offset {position} does not decode: {ex.Message}", ex, tp, position);
            }

            bool caughtUp = next >= result.HighWatermark;
            if (!caughtUp && next > position)
            {
                lock (_sync)
                {
                    if (c.Version == version)
                    {
                        c.Prefetch = StartFetch(tp, next);
                        c.PrefetchOffset = next;
                    }
                }
            }

            return new Poll(records, next, version, caughtUp, Failed: false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not ConsumeException && CallFaults.IsTransient(ex))
        {
            return Failure(c, version, ErrorCode.RequestTimedOut, $"Fetching {tp} at offset {position} failed: {ex.Message}", ex, position);
        }
    }

    private Poll Failure(Cursor c, int version, ErrorCode code, string message, Exception? cause, long position = -1)
    {
        if (!code.IsRetriable() || code == ErrorCode.UnknownTopicOrPartition || (code == ErrorCode.OffsetOutOfRange))
        {
            throw new ConsumeException(code, message, cause, c.TopicPartition, position);
        }

        DateTimeOffset now = _time.GetUtcNow();
        c.FailingSince ??= now;
        LogFetchRetry(c.TopicPartition, code, message);
        if (_options.FetchRetryTimeout != Timeout.InfiniteTimeSpan && now - c.FailingSince.Value >= _options.FetchRetryTimeout)
        {
            throw new ConsumeException(code, $"{message} (failing for {(now - c.FailingSince.Value).TotalMilliseconds:F0} ms, FetchRetryTimeout {_options.FetchRetryTimeout.TotalMilliseconds} ms)", cause, c.TopicPartition, position);
        }

        return Poll.Empty(version) with { Failed = true };
    }

    private Task<FetchResult> StartFetch(TopicPartition tp, long offset)
    {
        Task<FetchResult> task = CallFaults.WithDeadline(_transport.FetchAsync(tp.Topic, tp.Partition, offset, _options.MaxPartitionFetchBytes), _options.RequestTimeout, _time, _transport);

        // A prefetch dropped by a seek must not surface as an unobserved exception.
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }

    /// <summary>The position including the records handed out from the poll being delivered, if it is still current.</summary>
    private static long DeliveredPositionLocked(Cursor c)
    {
        if (c.Delivering is { } poll && poll.Version == c.Version && Volatile.Read(ref c.Delivered) is int delivered and > 0)
        {
            return Math.Max(c.Position, poll.Records[delivered - 1].Offset + 1);
        }

        return c.Position;
    }

    /// <summary>Moves the position past the records handed out from the poll being delivered and forgets that poll.</summary>
    private static void FoldDeliveredLocked(Cursor c)
    {
        c.Position = DeliveredPositionLocked(c);
        c.Delivering = null;
    }

    private sealed class Cursor(TopicPartition topicPartition, Offset requested)
    {
        /// <summary>Changes on every seek or reassignment, so results of older fetches are dropped. Written under the lock, read without.</summary>
        public int Version;

        /// <summary>Records of <see cref="Delivering"/> handed out so far; written without the lock by the enumerating thread.</summary>
        public int Delivered;

        public TopicPartition TopicPartition { get; } = topicPartition;

        /// <summary>The poll whose records are being handed out (see <see cref="FoldDeliveredLocked"/>), or <c>null</c>.</summary>
        public Poll? Delivering { get; set; }

        public Offset Requested { get; set; } = requested;

        /// <summary>Next offset to return; -1 while <see cref="Requested"/> is a special value not yet resolved.</summary>
        public long Position { get; set; } = requested.IsSpecial ? -1 : requested.Value;


        public Task<FetchResult>? Prefetch { get; set; }

        public long PrefetchOffset { get; set; } = -1;

        public bool EofReported { get; set; }

        public DateTimeOffset? FailingSince { get; set; }
    }

    private sealed record Poll(List<ConsumeResult> Records, long NextPosition, int Version, bool CaughtUp, bool Failed)
    {
        /// <summary>The position was reset: poll again at once.</summary>
        public bool Moved { get; init; }

        public static Poll Empty(int version) => new([], -1, version, false, false);
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Fetch from {TopicPartition} failed ({ErrorCode}), retrying: {Reason}")]
    private partial void LogFetchRetry(TopicPartition topicPartition, ErrorCode errorCode, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Position {Position} of {TopicPartition} is outside the log; reset to {Reset}")]
    private partial void LogOffsetReset(TopicPartition topicPartition, long position, long reset);
}
