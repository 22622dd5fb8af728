using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Client.Internal;
using OrleansBroker.Protocol;

namespace OrleansBroker.Client;

/// <summary>
/// Kafka-style producer: accumulates records per partition into record batches (Kafka v2 bytes), sends up to
/// <see cref="ProducerOptions.MaxInFlightPerPartition"/> batches per partition to the partition grains, and retries
/// transient failures with the same producer id, epoch and sequence, so the broker writes each batch once (KIP-98).
/// Thread-safe.
/// </summary>
/// <remarks>
/// <para><b>Batching.</b> A partition's open batch is closed when it reaches <see cref="ProducerOptions.BatchSize"/>
/// (capped at the topic's <c>max.message.bytes</c>), when it is <see cref="ProducerOptions.LingerMs"/> old and the partition
/// can send, when the partition has no batch awaiting acknowledgement (<see cref="ProducerOptions.SendWhenIdle"/>, the default), or on
/// <see cref="FlushAsync"/>. A closed batch is sealed (header, producer id, epoch, base sequence, CRC)
/// when it is drained into the in-flight window, as Kafka's accumulator does at drain time; its sequence then never
/// changes on retry. Callbacks of one partition run in offset order, on one dispatcher task.</para>
/// <para><b>Retries.</b> A send that fails without reaching the grain (connection failed, gateway too busy, no compatible
/// silo), a send without a reply within <see cref="ProducerOptions.RequestTimeout"/> or cut by a lost connection (outcome
/// unknown), and a retriable broker error are all retried with the same bytes after an exponential backoff
/// (<see cref="ProducerOptions.RetryBackoff"/> to <see cref="ProducerOptions.RetryBackoffMax"/>) until
/// <see cref="ProducerOptions.DeliveryTimeout"/> has passed since the batch's first record was added. While a partition has a
/// batch to retry, it sends nothing new and resends its unacknowledged batches one at a time, oldest first, so order is
/// kept; batches refused only because they overtook an older one in transit go again together, in order, as soon as every older
/// batch is acknowledged (see below). A duplicate acknowledgement is a success carrying the original offset. A batch is never resent once a batch
/// 5 positions newer could have been written, so every resend is inside the broker's 5-batch dedup window.</para>
/// <para><b>Out of order and epoch bump (KIP-360).</b> <see cref="ErrorCode.OutOfOrderSequenceNumber"/> on a batch whose send
/// started while an older batch of the partition was still unfinished means "wait for the older ones": it is resent after
/// them, together with the batches after it that were refused the same way, in sequence order, as soon as every older batch is
/// acknowledged or is itself resent in that order (the batches still in flight keep going). On a batch whose send started when every older batch of the partition was finished (a real gap: an older batch
/// failed for good), the producer bumps its epoch: (1) no partition sends a batch that was never sent; partitions other
/// than the gapped ones keep retrying their sent batches in the old epoch until each is acknowledged or fails;
/// (2) when no call is outstanding, the registry bumps the epoch (<c>InitProducerId(pid, epoch)</c>); (3) every partition's
/// sequence restarts at 0 in the new epoch (SCENARIOS S6); on a gapped partition, a batch whose every send was answered
/// with a definite rejection is re-stamped (new epoch, new sequence) and sent again, while a batch with a send of unknown
/// outcome fails with <see cref="ProduceException.PossiblyPersisted"/> set, never re-sent in the new epoch, so no record is
/// written twice. <see cref="ErrorCode.InvalidProducerEpoch"/> means another incarnation fenced this one: every pending
/// record fails with <see cref="ProducerFencedException"/> and the producer refuses new records.</para>
/// <para><b>Order per partition.</b> The grain calls of one partition are issued in sequence order: a send is decided and
/// queued under the producer's lock and issued by one thread per partition at a time, so two threads producing to the same
/// partition cannot swap their calls. Grain calls can still arrive out of order (Orleans does not keep message order); a
/// partition that holds this producer's state answers an overtaking batch with
/// <see cref="ErrorCode.OutOfOrderSequenceNumber"/> and it is resent after the older ones. A partition that holds no state for
/// the producer id accepts any sequence (KIP-360), so it would store an overtaking batch first. Hence the <b>first-batch
/// rule</b>: while the partition may have no state for this producer id and epoch, only one batch is in flight there; the
/// window opens to <see cref="ProducerOptions.MaxInFlightPerPartition"/> once that batch is acknowledged. "May have no
/// state" means: no batch of the current producer id and epoch was acknowledged by the partition yet (the first batch to a
/// partition, the first after an epoch bump), or the newest acknowledged one was first sent
/// <see cref="ProducerOptions.ProducerStateIdleThreshold"/> or longer ago (the broker may have expired the producer). This is
/// what Kafka gets from processing the requests of one connection in order.</para>
/// </remarks>
public sealed partial class Producer : IAsyncDisposable
{
    /// <summary>Emptied batch builders kept per topic for reuse; a builder stays with its batch until the batch is reported.</summary>
    private const int MaxPooledBuilders = 32;
    private const int MaxPooledRecordLists = 8;

    /// <summary>The longest timeout a timer measures (<c>uint.MaxValue - 1</c> ms); a longer close timeout means no limit.</summary>
    private const double MaxTimerMs = uint.MaxValue - 1.0;

    [ThreadStatic]
    private static Effects? t_effects;

    private readonly IBrokerTransport _transport;
    private readonly ProducerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly Lock _sync = new();
    private readonly Dictionary<string, TopicState> _topics = new(StringComparer.Ordinal);

    /// <summary>Emptied record lists of reported batches, reused by new batches (guarded by <see cref="_sync"/>).</summary>
    private readonly Stack<List<RecordEntry>> _recordLists = new();
    private readonly BufferPool _buffer;
    private readonly Channel<Completion> _completions = Channel.CreateUnbounded<Completion>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _dispatcher;
    private readonly bool _idempotent;

    /// <summary>With <see cref="ProducerOptions.SendWhenIdle"/>: the least time between two sends of a partition that go without lingering.</summary>
    private readonly TimeSpan _idleSendSpacing;

    private long _producerId = RecordBatchHeader.NoProducerId;
    private short _producerEpoch = RecordBatchHeader.NoProducerEpoch;
    private PidState _pidState;
    private bool _bumpPending;
    private bool _bumpInProgress;
    private ProduceException? _fatal;
    private bool _disposed;
    private string? _validTopic;
    private bool _closed;
    private long _pendingRecords;
    private int _flushers;
    private TaskCompletionSource? _idle;

    /// <summary>Completed when the first <see cref="CloseAsync"/> has closed the producer; set (under <see cref="_sync"/>) when it starts.</summary>
    private TaskCompletionSource? _closing;

    /// <summary>Cancelled by a later <see cref="CloseAsync"/> whose own limit passed: ends the first close's wait.</summary>
    private CancellationTokenSource? _closeForce;

    internal Producer(IBrokerTransport transport, ProducerOptions? options, ILoggerFactory? loggerFactory = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        options ??= ProducerOptions.Default;
        options.Validate();
        _transport = transport;
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Producer>();
        _random = random ?? Random.Shared;
        _idempotent = options.EnableIdempotence;
        _idleSendSpacing = TimeSpan.FromMilliseconds(Math.Min(options.LingerMs, 1));
        _pidState = _idempotent ? PidState.None : PidState.Ready;
        _buffer = new BufferPool(options.BufferMemory);
        _dispatcher = Task.Run(DispatchAsync);
        if (_idempotent && options.ProducerIdentity is null)
        {
            // As Kafka's producers do, the producer id is requested at creation, so the first records wait neither for it nor for the
            // registry's activation. With a ProducerIdentity the request fences the identity's previous instance, so it waits for
            // the first record (the application decides when the handover happens).
            _pidState = PidState.Initializing;
            _ = InitProducerIdAsync();
        }
    }

    private enum PidState
    {
        None,
        Initializing,
        Ready,
    }

    private enum BatchState
    {
        /// <summary>Open or closed, never sent in the current epoch.</summary>
        Unsent,

        /// <summary>A send is outstanding.</summary>
        InFlight,

        /// <summary>A send failed retriably; waits for its backoff and for older batches.</summary>
        AwaitingResend,

        /// <summary>Rejected as out of order with no older batch unfinished: waits for the epoch bump.</summary>
        AwaitingBump,

        /// <summary>Acknowledged; waits for older batches to retire so callbacks run in order.</summary>
        Acked,

        /// <summary>Failed for good; waits for older batches to retire.</summary>
        Failed,

        /// <summary>Reported.</summary>
        Completed,
    }

    /// <summary>The current producer id (PID); -1 before it is obtained or without idempotence.</summary>
    public long ProducerId
    {
        get
        {
            lock (_sync)
            {
                return _producerId;
            }
        }
    }

    /// <summary>The current producer epoch; -1 before the producer id is obtained or without idempotence.</summary>
    public short ProducerEpoch
    {
        get
        {
            lock (_sync)
            {
                return _producerEpoch;
            }
        }
    }

    /// <summary>Records accepted and not yet reported (acknowledged or failed).</summary>
    public long PendingCount
    {
        get
        {
            lock (_sync)
            {
                return _pendingRecords;
            }
        }
    }

    /// <summary>The options in use.</summary>
    public ProducerOptions Options => _options;

    /// <summary>
    /// Sends one record to a partition chosen by the partitioner and waits for its acknowledgement (Kafka's <c>send().get()</c>).
    /// </summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="message">The record.</param>
    /// <param name="cancellationToken">Stops waiting (for buffer space or the acknowledgement); a record already accepted is still delivered.</param>
    /// <returns>The acknowledgement: partition, offset, timestamp, and whether it was a duplicate.</returns>
    /// <exception cref="ProduceException">The record was not delivered (<see cref="DeliveryTimeoutException"/>, <see cref="ErrorCode.MessageTooLarge"/>,
    /// <see cref="ErrorCode.UnknownTopicOrPartition"/>, <see cref="ErrorCode.InvalidTopic"/>, ...).</exception>
    /// <exception cref="ProducerFencedException">The producer was fenced.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public Task<DeliveryResult> ProduceAsync(string topic, Message message, CancellationToken cancellationToken = default) =>
        ProduceCoreAsync(topic, null, message, cancellationToken);

    /// <summary>Sends one record to a given partition and waits for its acknowledgement.</summary>
    /// <param name="topicPartition">Topic and partition.</param>
    /// <param name="message">The record.</param>
    /// <param name="cancellationToken">Stops waiting; a record already accepted is still delivered.</param>
    /// <returns>The acknowledgement.</returns>
    /// <exception cref="ProduceException">The record was not delivered (also <see cref="ErrorCode.UnknownTopicOrPartition"/> for a partition out of range).</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public Task<DeliveryResult> ProduceAsync(TopicPartition topicPartition, Message message, CancellationToken cancellationToken = default) =>
        ProduceCoreAsync(topicPartition.Topic, topicPartition.Partition, message, cancellationToken);

    /// <summary>
    /// Hands one record to the producer and returns at once (Kafka's <c>send</c> with a callback). Blocks only while the
    /// producer holds <see cref="ProducerOptions.BufferMemory"/> bytes, for at most <see cref="ProducerOptions.MaxBlock"/>.
    /// </summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="message">The record.</param>
    /// <param name="deliveryHandler">Called once with the outcome, on the producer's dispatcher task, in offset order per partition. Must not block for long.</param>
    /// <exception cref="ProduceException">The record was refused before it was accepted: invalid topic name, or no buffer space within <see cref="ProducerOptions.MaxBlock"/>.</exception>
    /// <exception cref="ProducerFencedException">The producer was fenced.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public void Produce(string topic, Message message, Action<DeliveryReport>? deliveryHandler = null) =>
        ProduceCore(topic, null, message, deliveryHandler);

    /// <summary>Hands one record for a given partition to the producer and returns at once.</summary>
    /// <param name="topicPartition">Topic and partition.</param>
    /// <param name="message">The record.</param>
    /// <param name="deliveryHandler">Called once with the outcome.</param>
    /// <exception cref="ProduceException">The record was refused before it was accepted.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public void Produce(TopicPartition topicPartition, Message message, Action<DeliveryReport>? deliveryHandler = null) =>
        ProduceCore(topicPartition.Topic, topicPartition.Partition, message, deliveryHandler);

    /// <summary>
    /// Hands one record to the producer and returns at once (Kafka's <c>send(record, callback)</c>), like
    /// <see cref="Produce(string, Message, Action{DeliveryReport}?)"/>, with an allocation-free callback: the outcome is passed by reference as a <see cref="DeliveryOutcome"/>, so reporting a record allocates
    /// nothing (a <see cref="DeliveryReport"/> is one object per record).
    /// </summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="message">The record.</param>
    /// <param name="callback">Called once with the outcome, on the producer's dispatcher task, in offset order per partition. Must not block for long.</param>
    /// <exception cref="ProduceException">The record was refused before it was accepted: invalid topic name, or no buffer space within <see cref="ProducerOptions.MaxBlock"/>.</exception>
    /// <exception cref="ProducerFencedException">The producer was fenced.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public void Produce(string topic, Message message, DeliveryCallback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ProduceCore(topic, null, message, callback);
    }

    /// <summary>
    /// Hands one record for a given partition to the producer and returns at once (Kafka's <c>send(record, callback)</c> with the
    /// partition set), with the allocation-free callback of <see cref="Produce(string, Message, DeliveryCallback)"/>.
    /// </summary>
    /// <param name="topicPartition">Topic and partition.</param>
    /// <param name="message">The record.</param>
    /// <param name="callback">Called once with the outcome, on the producer's dispatcher task, in offset order per partition. Must not block for long.</param>
    /// <exception cref="ProduceException">The record was refused before it was accepted: invalid topic name, a negative partition
    /// (<see cref="ErrorCode.UnknownTopicOrPartition"/>), or no buffer space within <see cref="ProducerOptions.MaxBlock"/>.</exception>
    /// <exception cref="ProducerFencedException">The producer was fenced.</exception>
    /// <exception cref="ObjectDisposedException">The producer was disposed.</exception>
    public void Produce(TopicPartition topicPartition, Message message, DeliveryCallback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ProduceCore(topicPartition.Topic, topicPartition.Partition, message, callback);
    }

    /// <summary>
    /// Sends every open batch now (ignoring <see cref="ProducerOptions.LingerMs"/>) and waits until every record accepted
    /// before and during the call is reported (acknowledged or failed) and its handler has run (Kafka's <c>flush</c>).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting; the records are still delivered.</param>
    /// <returns>A task that completes when nothing is pending.</returns>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Task wait;
        var fx = new Effects();
        lock (_sync)
        {
            if (_pendingRecords == 0)
            {
                return;
            }

            _flushers++;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _idle.Task;
            PumpAllLocked(fx);
        }

        Run(fx);
        try
        {
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_sync)
            {
                _flushers--;
            }
        }
    }

    /// <summary>
    /// Closes the producer without a time limit: <see cref="CloseAsync(TimeSpan, CancellationToken)"/> with
    /// <see cref="Timeout.InfiniteTimeSpan"/> (Kafka's <c>close()</c>). Every pending record is still delivered or fails on its own
    /// <see cref="ProducerOptions.DeliveryTimeout"/>, measured on <see cref="ProducerOptions.TimeProvider"/>.
    /// </summary>
    /// <returns>A task that completes when the producer is closed.</returns>
    public async ValueTask DisposeAsync() => await CloseAsync(Timeout.InfiniteTimeSpan).ConfigureAwait(false);

    /// <summary>
    /// Flushes for at most <paramref name="timeout"/>, then fails every record not yet acknowledged and stops the producer's timers
    /// and dispatcher (Kafka's <c>close(Duration)</c>). A record failed this way is reported (its task, handler or callback) with a
    /// <see cref="ProduceException"/> of <see cref="ErrorCode.RequestTimedOut"/>; <see cref="ProduceException.PossiblyPersisted"/> is
    /// set when a send of it was still outstanding, since the broker may yet write it. New records are refused with
    /// <see cref="ObjectDisposedException"/> from the start of the call. A later call (or a dispose) while a close waits waits for it up to
    /// its own timeout, then forces it (a <c>CloseAsync(TimeSpan.Zero)</c> from another thread ends a waiting dispose). A timeout beyond
    /// what a timer measures (about 49.7 days) means no limit.
    /// </summary>
    /// <param name="timeout">How long to wait for the pending records (measured on <see cref="ProducerOptions.TimeProvider"/>);
    /// <see cref="TimeSpan.Zero"/> fails them at once, <see cref="Timeout.InfiniteTimeSpan"/> waits for each one's delivery timeout.</param>
    /// <param name="cancellationToken">Ends the wait early, as the timeout does (the producer is still closed).</param>
    /// <returns>A task that completes when the producer is closed and every record is reported.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public async Task CloseAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The close timeout must be zero or positive, or Timeout.InfiniteTimeSpan.");
        }

        if (timeout.TotalMilliseconds > MaxTimerMs)
        {
            timeout = Timeout.InfiniteTimeSpan; // beyond what a timer measures (~49.7 days): no limit, as Kafka's close(Long.MAX_VALUE)
        }

        TaskCompletionSource? earlier;
        CancellationTokenSource force;
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync)
        {
            earlier = _closing;
            if (earlier is null)
            {
                _closing = mine;
                _closeForce = new CancellationTokenSource();
                _disposed = true;
            }

            force = _closeForce!;
        }

        if (earlier is not null)
        {
            // A close is under way (or done): wait for it up to this call's own limit, then force it (Kafka: close(0) from another
            // thread ends a close() that waits), so the producer is closed and every record reported when this call returns too.
            try
            {
                await earlier.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                await force.CancelAsync().ConfigureAwait(false);
                await earlier.Task.ConfigureAwait(false);
            }

            return;
        }

        try
        {
            await CloseCoreAsync(timeout, force.Token, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            mine.TrySetResult();
        }
    }

    private async Task CloseCoreAsync(TimeSpan timeout, CancellationToken force, CancellationToken cancellationToken)
    {
        try
        {
            // Measured on the producer's clock, as the delivery timeout.
            using var timer = timeout == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(timeout, _time);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token, force);
            bool forced = timeout == TimeSpan.Zero || limit.IsCancellationRequested;
            if (!forced)
            {
                try
                {
                    await FlushAsync(limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested)
                {
                    forced = true;
                }
            }

            if (forced)
            {
                // Without a flush first: a close(0) sends nothing, so unsent records fail as known not written and only those with a
                // send outstanding as possibly persisted.
                FailPendingOnClose(timeout);
            }
        }
        finally
        {
            lock (_sync)
            {
                _closed = true;
                foreach (TopicState t in _topics.Values)
                {
                    // Pooled builders have no call outstanding: their buffers go back to the shared pool for the next producer.
                    while (t.BuilderPool.TryPop(out RecordBatchBuilder? pooled))
                    {
                        pooled.ReturnBuffer();
                    }

                    foreach (PartitionState p in t.Partitions)
                    {
                        p.Timer?.Dispose();
                        p.Timer = null;
                    }
                }
            }

            _buffer.Close(new ObjectDisposedException(nameof(Producer)));
            _completions.Writer.TryComplete();
            await _dispatcher.ConfigureAwait(false);
        }
    }

    /// <summary>The close timeout passed with records pending: each is reported as failed, as Kafka's forced close does.</summary>
    private void FailPendingOnClose(TimeSpan timeout)
    {
        var error = new ProduceException(
            ErrorCode.RequestTimedOut,
            $"The producer was closed before the record was acknowledged (close timeout {(timeout == Timeout.InfiniteTimeSpan ? "none, the wait was cancelled" : timeout.TotalMilliseconds + " ms")}).");
        lock (_sync)
        {
            FailAllLocked(error, fatal: false);
        }
    }

    private async Task<DeliveryResult> ProduceCoreAsync(string topic, int? partition, Message message, CancellationToken cancellationToken)
    {
        int size = Validate(topic, partition, message);
        if (!_buffer.TryReserve(size))
        {
            try
            {
                await _buffer.ReserveAsync(size, _options.MaxBlock, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw BufferTimeout(topic, message, ex);
            }
        }

        var tcs = new TaskCompletionSource<DeliveryResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(topic, partition, message, size, null, tcs);
        return await tcs.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    // handler: an Action<DeliveryReport>, a DeliveryCallback, or null.
    private void ProduceCore(string topic, int? partition, Message message, Delegate? handler)
    {
        int size = Validate(topic, partition, message);
        if (!_buffer.TryReserve(size))
        {
            try
            {
                _buffer.ReserveAsync(size, _options.MaxBlock, _time, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (TimeoutException ex)
            {
                throw BufferTimeout(topic, message, ex);
            }
        }

        Enqueue(topic, partition, message, size, handler, null);
    }

    private ProduceException BufferTimeout(string topic, Message message, Exception ex) =>
        new(ErrorCode.RequestTimedOut, $"No buffer space for a record to '{topic}' within MaxBlock ({_options.MaxBlock.TotalMilliseconds} ms): {_buffer.Used} bytes are pending (BufferMemory {_options.BufferMemory}).", ex, null, message);

    private int Validate(string topic, int? partition, Message message)
    {
        ArgumentNullException.ThrowIfNull(message);

        // The name check runs once per topic string instance in a row, not once per record.
        if (topic is null || !ReferenceEquals(topic, Volatile.Read(ref _validTopic)))
        {
            if (!TopicName.IsValid(topic, out string? reason))
            {
                throw new ProduceException(ErrorCode.InvalidTopic, reason!, null, null, message);
            }

            Volatile.Write(ref _validTopic, topic);
        }

        if (partition is < 0)
        {
            throw new ProduceException(ErrorCode.UnknownTopicOrPartition, $"Partition {partition} of '{topic}' does not exist.", null, new TopicPartition(topic!, partition.Value), message);
        }

        // Read without the lock: both are set once, under it; Enqueue checks _fatal again under the lock.
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        if (Volatile.Read(ref _fatal) is { } fatal)
        {
            throw fatal.ForRecord(null, message);
        }

        long size = 64L + (message.Key?.Length ?? 0) + (message.Value?.Length ?? 0);
        if (message.Headers is { } headers)
        {
            foreach (RecordHeader h in headers)
            {
                size += 8 + (h.Key.Length * 3) + (h.Value?.Length ?? 0);
            }
        }

        return (int)Math.Min(size, int.MaxValue);
    }

    private void Enqueue(string topic, int? partition, Message message, int size, Delegate? handler, TaskCompletionSource<DeliveryResult>? tcs)
    {
        DateTimeOffset now = _time.GetUtcNow();
        long timestamp = (message.Timestamp ?? now).ToUnixTimeMilliseconds();
        var entry = new RecordEntry(message, timestamp, size, partition, handler, tcs);

        // One Effects per thread, reused record after record (taken out while in use, so a nested call gets its own).
        Effects fx = t_effects ?? new Effects();
        t_effects = null;
        fx.Now = now;
        try
        {
            lock (_sync)
            {
                if (_disposed)
                {
                    // Disposed after Validate checked (e.g. while this thread waited for buffer space that the closing flush freed):
                    // refused here, as Validate would have, rather than accepted by a producer that will never send it.
                    _buffer.Release(size);
                    throw new ObjectDisposedException(nameof(Producer));
                }

                _pendingRecords++;
                if (_fatal is not null)
                {
                    FailRecordLocked(entry, topic, partition ?? -1, _fatal);
                }
                else
                {
                    if (!_topics.TryGetValue(topic, out TopicState? t))
                    {
                        t = new TopicState(topic);
                        _topics.Add(topic, t);
                        fx.AddLoad(t);
                    }

                    if (t.Partitions.Length == 0)
                    {
                        t.Pending.Add(entry);
                    }
                    else
                    {
                        RouteLocked(t, entry, fx);
                    }
                }
            }

            Run(fx);
        }
        finally
        {
            fx.Clear();
            t_effects = fx;
        }
    }

    // ---------------------------------------------------------------- routing and accumulation

    private void RouteLocked(TopicState t, RecordEntry entry, Effects fx)
    {
        int count = t.Partitions.Length;
        Message m = entry.Message;
        int partition;
        if (entry.ExplicitPartition is int explicitPartition)
        {
            partition = explicitPartition;
        }
        else if (_options.Partitioner is { } custom)
        {
            try
            {
                partition = custom(t.Name, count, m.Key, m.Key is null);
            }
#pragma warning disable CA1031 // A throwing user partitioner fails this record only.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                FailRecordLocked(entry, t.Name, -1, new ProduceException(ErrorCode.UnknownServerError, $"The custom partitioner threw: {ex.Message}", ex));
                return;
            }
        }
        else if (m.Key is not null)
        {
            partition = KafkaPartitioner.Partition(m.Key, count);
        }
        else
        {
            RouteStickyLocked(t, entry, fx);
            return;
        }

        if (partition < 0 || partition >= count)
        {
            FailRecordLocked(entry, t.Name, partition, new ProduceException(ErrorCode.UnknownTopicOrPartition, $"Partition {partition} of '{t.Name}' does not exist: the topic has {count} partition{(count == 1 ? "" : "s")}."));
            return;
        }

        AppendLocked(t.Partitions[partition], entry, fx);
    }

    /// <summary>KIP-480: keyless records stick to one partition until its batch is closed, then move to another one.</summary>
    private void RouteStickyLocked(TopicState t, RecordEntry entry, Effects fx)
    {
        PartitionState? sticky = t.StickyPartition >= 0 ? t.Partitions[t.StickyPartition] : null;
        if (sticky is not null && sticky.Open is { } open && ReferenceEquals(open, t.StickyBatch))
        {
            if (TryAppend(open, entry))
            {
                AfterAppendLocked(sticky, created: false, fx);
                return;
            }

            // The sticky batch is full: close it and move on (the record opens a batch on the next partition).
            CloseOpenLocked(sticky);
            PumpLocked(sticky, fx);
        }

        int next = NextStickyPartition(t.Partitions.Length, t.StickyPartition);
        PartitionState p = t.Partitions[next];
        AppendLocked(p, entry, fx);
        t.StickyPartition = next;
        t.StickyBatch = p.Open;
    }

    private int NextStickyPartition(int count, int previous)
    {
        if (count == 1)
        {
            return 0;
        }

        if (previous < 0)
        {
            return _random.Next(count);
        }

        int next = _random.Next(count - 1);
        return next >= previous ? next + 1 : next;
    }

    private void AppendLocked(PartitionState p, RecordEntry entry, Effects fx)
    {
        bool created = false;
        if (p.Open is null)
        {
            p.Open = NewBatch(p);
            created = true;
        }

        if (!TryAppend(p.Open, entry))
        {
            CloseOpenLocked(p);
            p.Open = NewBatch(p);
            created = true;
            if (!TryAppend(p.Open, entry))
            {
                throw new InvalidOperationException("An empty record batch refused a record.");
            }
        }

        AfterAppendLocked(p, created, fx);
    }

    private void AfterAppendLocked(PartitionState p, bool created, Effects fx)
    {
        bool closed = false;
        bool lingered = false;
        if (p.Open is { } open)
        {
            if (open.Builder!.SizeInBytes >= p.Topic.MaxBatchBytes)
            {
                CloseOpenLocked(p);
                closed = true;
            }
            else if (!open.LingerPumped && fx.Now >= open.LingerDue)
            {
                // Its linger.ms is up and records keep coming: send it now rather than when the linger timer gets a thread (under load
                // that can be milliseconds later). Once: if the window is full, the next acknowledgement sends it.
                open.LingerPumped = true;
                lingered = true;
            }
        }

        if (created || closed || lingered)
        {
            PumpLocked(p, fx);
        }
    }

    private static bool TryAppend(ProducerBatch batch, RecordEntry entry)
    {
        Message m = entry.Message;
        if (!batch.Builder!.TryAppend(entry.Timestamp, m.Key, m.Key is null, m.Value, m.Value is null, m.Headers))
        {
            return false;
        }

        batch.Records.Add(entry);
        batch.ReservedBytes += entry.Size;
        return true;
    }

    private ProducerBatch NewBatch(PartitionState p)
    {
        DateTimeOffset now = _time.GetUtcNow();
        RecordBatchBuilder builder = p.Topic.BuilderPool.Count > 0 ? p.Topic.BuilderPool.Pop() : new RecordBatchBuilder(p.Topic.MaxBatchBytes, ArrayPool<byte>.Shared);
        return new ProducerBatch(p, builder, now, now + TimeSpan.FromMilliseconds(_options.LingerMs), now + _options.DeliveryTimeout)
        {
            // A reported batch's list, or one sized like this partition's last batch, so it does not grow record by record.
            Records = _recordLists.Count > 0 ? _recordLists.Pop() : new List<RecordEntry>(Math.Max(16, p.LastBatchRecords)),
        };
    }

    private void CloseOpenLocked(PartitionState p)
    {
        ProducerBatch? b = p.Open;
        if (b is null)
        {
            return;
        }

        p.Open = null;
        p.LastBatchRecords = b.Records.Count;
        int size = b.Builder!.SizeInBytes;
        if (size > p.Topic.MaxMessageBytes)
        {
            ReturnBuilder(p.Topic, b);
            CompleteLocked(b, new ProduceException(ErrorCode.MessageTooLarge, $"A record needs a batch of {size} bytes, more than max.message.bytes ({p.Topic.MaxMessageBytes}) of '{p.Topic.Name}'.", null, p.TopicPartition));
            return;
        }

        p.Ready.AddLast(b);
    }

    /// <summary>
    /// Pools the batch's builder, unless a grain call carrying its bytes has not finished yet (one that timed out on our side may still
    /// be waiting in Orleans to be serialized: a reused builder would change those bytes); that builder is left to the GC.
    /// </summary>
    private static void ReturnBuilder(TopicState t, ProducerBatch b)
    {
        if (b.Builder is { } builder && Volatile.Read(ref b.CallsOutstanding) == 0)
        {
            b.Builder = null;
            if (t.BuilderPool.Count < MaxPooledBuilders)
            {
                builder.Reset();
                t.BuilderPool.Push(builder);
            }
            else
            {
                builder.ReturnBuffer();
            }
        }
    }

    // ---------------------------------------------------------------- the send pump

    private void PumpAllLocked(Effects fx)
    {
        foreach (TopicState t in _topics.Values)
        {
            foreach (PartitionState p in t.Partitions)
            {
                PumpLocked(p, fx);
            }
        }
    }

    /// <summary>Expires, retires and sends what one partition can; re-arms its timer. Idempotent.</summary>
    private void PumpLocked(PartitionState p, Effects fx)
    {
        if (_fatal is not null || _closed)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        ExpireLocked(p, now);
        RetireLocked(p);

        DateTimeOffset due = DateTimeOffset.MaxValue;
        if (!p.Gapped)
        {
            ProducerBatch? resend = null;
            bool anyInFlight = false;
            foreach (ProducerBatch b in p.Window)
            {
                anyInFlight |= b.State == BatchState.InFlight;
                if (resend is null && b.State == BatchState.AwaitingResend)
                {
                    resend = b;
                }
            }

            if (resend is not null)
            {
                if (resend.Overtaken)
                {
                    // The oldest batch to resend overtook an older one in transit and was refused unwritten. Overtaken batches go again
                    // in sequence order, pipelined as they first went (within the window, so every resend stays inside the broker's
                    // 5-batch dedup window), from the oldest, as long as every older batch is finished or is itself one of these ordered
                    // resends; they stop at an older batch whose first send is still unanswered (it may still overtake them). The
                    // answers to the first sends arrive in any order (they complete on the thread pool), so a batch refused after the
                    // others were resent joins them behind the last one instead of waiting for them to be answered.
                    SendOvertakenInOrderLocked(p, now, fx);
                }
                else if (!anyInFlight)
                {
                    // Retry mode: one call at a time, oldest unacknowledged first, after every outstanding call returned.
                    if (now >= resend.RetryAt)
                    {
                        SendLocked(p, resend, now, fx);
                    }
                    else
                    {
                        due = resend.RetryAt;
                    }
                }
            }
            else if (!_bumpPending)
            {
                if (_pidState == PidState.Ready)
                {
                    int maxInFlight = MaxInFlightLocked(p);
                    while (p.Window.Count < maxInFlight)
                    {
                        if (p.Ready.First is not { } node)
                        {
                            if (p.Open is { } open && (open.LingerDue <= now || _flushers > 0 || (_options.SendWhenIdle && now >= p.LastSentAt + IdleSendAfter(p))))
                            {
                                CloseOpenLocked(p);
                                continue;
                            }

                            break;
                        }

                        ProducerBatch next = node.Value;
                        p.Ready.RemoveFirst();
                        StampLocked(p, next);
                        next.StampedAt = _time.GetTimestamp();
                        p.Window.Add(next);
                        SendLocked(p, next, now, fx);
                    }
                }
                else if (_pidState == PidState.None && (p.Open is not null || p.Ready.Count > 0))
                {
                    _pidState = PidState.Initializing;
                    fx.StartInit = true;
                }
            }
        }

        // Wake-ups: the open batch's linger, and the earliest delivery deadline of a batch that is not in flight.
        if (p.Open is { } o)
        {
            if (o.LingerDue > now)
            {
                due = Min(due, o.LingerDue);
            }

            if (_options.SendWhenIdle && p.LastSentAt + IdleSendAfter(p) > now)
            {
                due = Min(due, p.LastSentAt + IdleSendAfter(p));
            }

            due = Min(due, o.Deadline);
        }

        if (p.Ready.First is { } head)
        {
            due = Min(due, head.Value.Deadline);
        }

        foreach (ProducerBatch b in p.Window)
        {
            if (b.State is BatchState.AwaitingResend or BatchState.AwaitingBump)
            {
                due = Min(due, b.Deadline);
            }
        }

        ArmTimerLocked(p, due, now);
        if (_bumpPending)
        {
            CheckBumpLocked(fx);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>
    /// With <see cref="ProducerOptions.SendWhenIdle"/>: how long after its last send a partition sends its open batch without lingering.
    /// With nothing in flight, the idle spacing (1 ms at most); with a batch in flight, twice the partition's recent round trip: an
    /// acknowledgement that late is not waited for, so a stall does not hold the next records for the whole linger.
    /// </summary>
    private TimeSpan IdleSendAfter(PartitionState p) =>
        p.Window.Count == 0 ? _idleSendSpacing : TimeSpan.FromTicks(Math.Max(_idleSendSpacing.Ticks, 2 * p.RoundTrip.Ticks));

    /// <summary>
    /// Resends the partition's overtaken batches in sequence order, from the oldest, while every older batch is finished or is itself
    /// an ordered resend; stops at the first batch that is neither (a first send still unanswered, a batch in retry).
    /// </summary>
    private void SendOvertakenInOrderLocked(PartitionState p, DateTimeOffset now, Effects fx)
    {
        foreach (ProducerBatch b in p.Window)
        {
            if (b.State is BatchState.Acked or BatchState.Failed || (b.State == BatchState.InFlight && b.OrderedResend))
            {
                continue;
            }

            if (b.State != BatchState.AwaitingResend || !b.Overtaken)
            {
                return;
            }

            SendLocked(p, b, now, fx);
            b.OrderedResend = true;
        }
    }

    /// <summary>Whether every batch older than <paramref name="batch"/> in the partition's window is acknowledged or failed.</summary>
    private static bool OlderFinished(PartitionState p, ProducerBatch batch)
    {
        foreach (ProducerBatch older in p.Window)
        {
            if (ReferenceEquals(older, batch))
            {
                return true;
            }

            if (older.State is not (BatchState.Acked or BatchState.Failed))
            {
                return false;
            }
        }

        return true;
    }

    private void ArmTimerLocked(PartitionState p, DateTimeOffset due, DateTimeOffset now)
    {
        if (due == p.TimerDue)
        {
            return;
        }

        p.TimerDue = due;
        if (due == DateTimeOffset.MaxValue)
        {
            p.Timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        TimeSpan delay = due > now ? due - now : TimeSpan.Zero;
        if (p.Timer is null)
        {
            p.Timer = _time.CreateTimer(static s => ((PartitionState)s!).Owner.OnTimer((PartitionState)s!), p, delay, Timeout.InfiniteTimeSpan);
        }
        else
        {
            p.Timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer(PartitionState p)
    {
        var fx = new Effects();
        lock (_sync)
        {
            p.TimerDue = DateTimeOffset.MaxValue;
            PumpLocked(p, fx);
        }

        Run(fx);
    }

    /// <summary>Fails batches whose delivery timeout passed and that have no call outstanding.</summary>
    private void ExpireLocked(PartitionState p, DateTimeOffset now)
    {
        // Never sent in this epoch: known not to be in the log.
        for (LinkedListNode<ProducerBatch>? node = p.Ready.First; node is not null;)
        {
            LinkedListNode<ProducerBatch>? nextNode = node.Next;
            ProducerBatch b = node.Value;
            if (now >= b.Deadline)
            {
                p.Ready.Remove(node);
                ReturnBuilder(p.Topic, b);
                CompleteLocked(b, Expired(b, possiblyPersisted: false));
            }

            node = nextNode;
        }

        if (p.Open is { } open && now >= open.Deadline)
        {
            p.Open = null;
            ReturnBuilder(p.Topic, open);
            CompleteLocked(open, Expired(open, possiblyPersisted: false));
        }

        foreach (ProducerBatch b in p.Window)
        {
            if (b.State is BatchState.AwaitingResend or BatchState.AwaitingBump && now >= b.Deadline)
            {
                b.State = BatchState.Failed;
                b.Error = Expired(b, b.MayHaveBeenWritten);
                LogBatchExpired(p.TopicPartition, b.BaseSequence, b.Attempts, b.MayHaveBeenWritten);
            }
        }
    }

    private DeliveryTimeoutException Expired(ProducerBatch b, bool possiblyPersisted) =>
        new($"The batch of {b.Records.Count} records for {b.Partition.TopicPartition} was not acknowledged within the delivery timeout ({_options.DeliveryTimeout.TotalMilliseconds} ms) after {b.Attempts} sends{(b.LastError is null ? "" : ": " + b.LastError.Message)}.", b.LastError, b.Partition.TopicPartition, null, possiblyPersisted);

    /// <summary>Reports finished batches at the head of the window, in sequence order.</summary>
    private void RetireLocked(PartitionState p)
    {
        int n = 0;
        while (n < p.Window.Count && p.Window[n].State is BatchState.Acked or BatchState.Failed)
        {
            ProducerBatch b = p.Window[n];
            CompleteLocked(b, b.State == BatchState.Failed ? b.Error : null);
            n++;
        }

        if (n > 0)
        {
            p.Window.RemoveRange(0, n);
        }
    }

    private void StampLocked(PartitionState p, ProducerBatch b)
    {
        long pid = _idempotent ? _producerId : RecordBatchHeader.NoProducerId;
        short epoch = _idempotent ? _producerEpoch : RecordBatchHeader.NoProducerEpoch;
        int sequence = _idempotent ? p.NextSequence : RecordBatchHeader.NoSequence;
        if (b.Bytes.IsEmpty)
        {
            // No copy: the call sends a slice of the builder's buffer, which stays with the batch until it is reported.
            b.Bytes = b.Builder!.SealInPlace(pid, epoch, sequence);
        }
        else
        {
            BatchStamp.Restamp(b.Bytes.Span, pid, epoch, sequence);
        }

        b.ProducerEpoch = epoch;
        b.BaseSequence = sequence;
        if (_idempotent)
        {
            p.NextSequence = RecordBatchHeader.IncrementSequence(sequence, b.Records.Count);
        }
    }

    private void SendLocked(PartitionState p, ProducerBatch b, DateTimeOffset now, Effects fx)
    {
        p.LastSentAt = now;
        b.SentAt = now;
        b.OlderFinishedAtSend = OlderFinished(p, b);
        b.Overtaken = false;
        b.OrderedResend = false;
        b.State = BatchState.InFlight;
        b.Attempts++;
        if (b.Attempts > 1)
        {
            LogResend(p.TopicPartition, b.ProducerEpoch, b.BaseSequence, b.Attempts);
        }

        p.ToIssue.Enqueue(b);
        fx.AddIssue(p);
    }

    /// <summary>
    /// The first-batch rule: the full window only while the partition is known to hold state for this producer id and epoch
    /// (it acknowledged a batch of them, first sent less than <see cref="ProducerOptions.ProducerStateIdleThreshold"/> ago);
    /// otherwise one batch at a time, because a partition without the producer's state accepts any sequence (KIP-360).
    /// </summary>
    private int MaxInFlightLocked(PartitionState p) =>
        !_idempotent || (p.ConfirmedAt is long confirmed && _time.GetElapsedTime(confirmed) < _options.ProducerStateIdleThreshold)
            ? _options.MaxInFlightPerPartition
            : 1;

    /// <summary>
    /// Issues the partition's queued sends in queue order, which is sequence order. One thread per partition at a time: a
    /// thread that finds another one issuing leaves its sends to it, so the grain calls of a partition start in the order the
    /// sends were decided under the lock. A batch no longer in flight (the producer was fenced meanwhile) is skipped.
    /// </summary>
    private void IssueSends(PartitionState p)
    {
        lock (_sync)
        {
            if (p.Issuing)
            {
                return;
            }

            p.Issuing = true;
        }

        while (true)
        {
            ProducerBatch? b;
            lock (_sync)
            {
                do
                {
                    if (!p.ToIssue.TryDequeue(out b))
                    {
                        p.Issuing = false;
                        return;
                    }
                }
                while (b.State != BatchState.InFlight);

                // Counted before the lock is released: a completion racing with this send cannot pool the builder meanwhile.
                Interlocked.Increment(ref b.CallsOutstanding);
            }

            // Starts the grain call synchronously; a reply that is already there is handled inline and may queue more sends,
            // which this loop then issues.
            _ = SendAsync(b);
        }
    }

    private async Task SendAsync(ProducerBatch b)
    {
        PartitionState p = b.Partition;
        ProduceResult? result = null;
        Exception? error = null;
        try
        {
            Task<ProduceResult> call;
            try
            {
                call = _transport.ProduceAsync(p.Topic.Name, p.Index, b.Bytes);
            }
            catch
            {
                Interlocked.Decrement(ref b.CallsOutstanding);
                throw;
            }

            TrackCall(b, call);
            result = await CallFaults.WithDeadline(call, _options.RequestTimeout, _time, _transport).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Every failure of the call is classified below.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex;
        }

        var fx = new Effects();
        lock (_sync)
        {
            OnSendCompletedLocked(b, result, error, fx);
        }

        Run(fx);
    }

    /// <summary>
    /// Keeps the grain call counted as outstanding on the batch (counted when it was dequeued for sending) until Orleans finishes it
    /// (answered, failed or timed out there): Orleans serializes the batch's bytes after the call was made (<c>[Immutable]</c>).
    /// </summary>
    private static void TrackCall(ProducerBatch b, Task call)
    {
        if (call.IsCompleted)
        {
            Interlocked.Decrement(ref b.CallsOutstanding);
            return;
        }

        _ = call.ContinueWith(
            static (_, state) => Interlocked.Decrement(ref ((ProducerBatch)state!).CallsOutstanding),
            b,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void OnSendCompletedLocked(ProducerBatch b, ProduceResult? result, Exception? error, Effects fx)
    {
        if (b.State != BatchState.InFlight)
        {
            return;
        }

        PartitionState p = b.Partition;
        DateTimeOffset now = _time.GetUtcNow();
        if (error is not null)
        {
            CallFault fault = CallFaults.Classify(error);
            LogSendFailed(p.TopicPartition, b.BaseSequence, b.Attempts, fault, error);
            if (fault == CallFault.Fatal)
            {
                b.State = BatchState.Failed;
                b.Error = new ProduceException(ErrorCode.UnknownServerError, $"Sending to {p.TopicPartition} failed: {error.Message}", error, p.TopicPartition, null, possiblyPersisted: true);
            }
            else
            {
                b.MayHaveBeenWritten |= fault == CallFault.OutcomeUnknown;
                b.LastError = error;
                MarkForResend(b, now);
            }
        }
        else
        {
            ErrorCode code = result!.Error;
            switch (code)
            {
                case ErrorCode.None:
                    b.State = BatchState.Acked;
                    p.RoundTrip = TimeSpan.FromTicks(((p.RoundTrip.Ticks * 7) + (now - b.SentAt).Ticks) / 8);
                    b.BaseOffset = result.BaseOffset;
                    b.IsDuplicate = result.IsDuplicate;
                    if (_idempotent && b.ProducerEpoch == _producerEpoch && (p.ConfirmedAt is not long confirmed || b.StampedAt - confirmed > 0))
                    {
                        // The partition holds state for this producer id and epoch (also when the batch was a duplicate).
                        p.ConfirmedAt = b.StampedAt;
                    }

                    if (result.IsDuplicate)
                    {
                        LogDuplicate(p.TopicPartition, b.BaseSequence, result.BaseOffset);
                    }

                    break;

                case ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId when _idempotent:
                    b.LastError = new ProduceException(code, result.Message ?? code.ToString(), null, p.TopicPartition);
                    if (b.OlderFinishedAtSend)
                    {
                        b.State = BatchState.AwaitingBump;
                        p.Gapped = true;
                        if (!_bumpPending)
                        {
                            _bumpPending = true;
                            LogGap(p.TopicPartition, _producerId, _producerEpoch, b.BaseSequence, result.ExpectedSequence);
                        }
                    }
                    else
                    {
                        // An older batch was unfinished when this one was sent: retry after it, no backoff needed.
                        b.State = BatchState.AwaitingResend;
                        b.Overtaken = true;
                        b.RetryAt = now;
                    }

                    break;

                case ErrorCode.InvalidProducerEpoch when _idempotent:
                    // This attempt was refused (not written); an earlier one of unknown outcome still counts through MayHaveBeenWritten.
                    b.State = BatchState.Failed;
                    FenceLocked(new ProducerFencedException($"Producer id {_producerId} epoch {b.ProducerEpoch} was fenced at {p.TopicPartition}: the partition has epoch {result.CurrentEpoch}. {result.Message}"));
                    return;

                case var c when c.IsRetriable():
                    // A storage error can follow a write that reached the file (the append or its fsync failed after the bytes were
                    // handed to the OS, and recovery keeps them): its outcome is unknown.
                    b.MayHaveBeenWritten |= code == ErrorCode.KafkaStorageError;
                    b.LastError = new ProduceException(code, result.Message ?? code.ToString(), null, p.TopicPartition);
                    LogRetriableError(p.TopicPartition, b.BaseSequence, code, result.Message);
                    MarkForResend(b, now);
                    break;

                default:
                    b.State = BatchState.Failed;
                    b.Error = new ProduceException(code, result.Message ?? $"The broker refused the batch for {p.TopicPartition}: {code}.", null, p.TopicPartition);
                    break;
            }
        }

        PumpLocked(p, fx);
    }

    private void MarkForResend(ProducerBatch b, DateTimeOffset now)
    {
        b.State = BatchState.AwaitingResend;
        b.RetryAt = now + CallFaults.Backoff(b.Attempts, _options.RetryBackoff, _options.RetryBackoffMax);
    }

    // ---------------------------------------------------------------- producer id and epoch bump

    private async Task InitProducerIdAsync()
    {
        var request = new InitProducerIdRequest(ProducerIdentity: _options.ProducerIdentity);
        if (await CallRegistryAsync(request, ex => $"Cannot obtain a producer id: {ex.Message}").ConfigureAwait(false) is not { } result)
        {
            return;
        }

        if (result.Error != ErrorCode.None)
        {
            SetFatal(result.Error == ErrorCode.InvalidProducerEpoch
                ? new ProducerFencedException($"The registry refused producer identity '{_options.ProducerIdentity}': {result.Error}.")
                : new ProduceException(result.Error, $"The registry refused to issue a producer id: {result.Error}."));
            return;
        }

        var fx = new Effects();
        lock (_sync)
        {
            _producerId = result.ProducerId;
            _producerEpoch = result.ProducerEpoch;
            _pidState = PidState.Ready;
            LogProducerId(result.ProducerId, result.ProducerEpoch, _options.ProducerIdentity);
            PumpAllLocked(fx);
        }

        Run(fx);
    }

    /// <summary>
    /// One InitProducerId call to the registry, retried with backoff after transient faults; <c>null</c> when the producer was closed
    /// or failed meanwhile, or when the call failed for good (the producer is then failed with <paramref name="describeFailure"/>'s text).
    /// </summary>
    private async Task<InitProducerIdResult?> CallRegistryAsync(InitProducerIdRequest request, Func<Exception, string> describeFailure)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await CallFaults.WithDeadline(_transport.InitProducerIdAsync(request), _options.RequestTimeout, _time, _transport).ConfigureAwait(false);
            }
            catch (Exception ex) when (CallFaults.IsTransient(ex))
            {
                LogRegistryRetry(attempt, ex);
                if (!await BackoffUnlessClosedAsync(attempt).ConfigureAwait(false))
                {
                    return null;
                }
            }
#pragma warning disable CA1031 // Reported to every pending record.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SetFatal(new ProduceException(ErrorCode.UnknownServerError, describeFailure(ex), ex));
                return null;
            }
        }
    }

    /// <summary>Starts the bump once no call is outstanding and only gapped partitions hold unfinished batches.</summary>
    private void CheckBumpLocked(Effects fx)
    {
        if (!_bumpPending || _bumpInProgress || _fatal is not null)
        {
            return;
        }

        foreach (TopicState t in _topics.Values)
        {
            foreach (PartitionState p in t.Partitions)
            {
                foreach (ProducerBatch b in p.Window)
                {
                    if (b.State == BatchState.InFlight || (!p.Gapped && b.State == BatchState.AwaitingResend))
                    {
                        return;
                    }
                }
            }
        }

        _bumpInProgress = true;
        fx.StartBump = true;
    }

    private async Task BumpEpochAsync()
    {
        long pid;
        short epoch;
        lock (_sync)
        {
            if (_fatal is not null || _closed)
            {
                return;
            }

            pid = _producerId;
            epoch = _producerEpoch;
        }

        // No identity here: the registry must check that (pid, epoch) is current (KIP-360), so a fenced zombie cannot bump.
        var request = new InitProducerIdRequest(pid, epoch);
        if (await CallRegistryAsync(request, ex => $"The epoch bump of producer id {pid} failed: {ex.Message}").ConfigureAwait(false) is not { } result)
        {
            return;
        }

        if (result.Error == ErrorCode.InvalidProducerEpoch)
        {
            SetFatal(new ProducerFencedException($"Producer id {pid} epoch {epoch} was fenced: the registry refused the epoch bump."));
            return;
        }

        if (result.Error != ErrorCode.None)
        {
            SetFatal(new ProduceException(result.Error, $"The epoch bump of producer id {pid} failed: {result.Error}."));
            return;
        }

        var fx = new Effects();
        lock (_sync)
        {
            ApplyBumpLocked(result.ProducerId, result.ProducerEpoch, fx);
        }

        Run(fx);
    }

    private async Task<bool> BackoffUnlessClosedAsync(int attempt)
    {
        await Task.Delay(CallFaults.Backoff(attempt, _options.RetryBackoff, _options.RetryBackoffMax), _time).ConfigureAwait(false);
        lock (_sync)
        {
            if (_closed || _fatal is not null)
            {
                return false;
            }

            // Nothing left to send: keep going anyway, cheaply, so the next record does not wait for the registry.
            return true;
        }
    }

    /// <summary>Moves every partition to the new epoch at sequence 0 and re-stamps only batches known never to have been written.</summary>
    private void ApplyBumpLocked(long producerId, short producerEpoch, Effects fx)
    {
        LogEpochBumped(_producerId, _producerEpoch, producerId, producerEpoch);
        _producerId = producerId;
        _producerEpoch = producerEpoch;
        foreach (TopicState t in _topics.Values)
        {
            foreach (PartitionState p in t.Partitions)
            {
                p.NextSequence = 0;
                p.ConfirmedAt = null;
                var again = new List<ProducerBatch>();
                foreach (ProducerBatch b in p.Window)
                {
                    switch (b.State)
                    {
                        case BatchState.Acked:
                            CompleteLocked(b, null);
                            break;
                        case BatchState.Failed:
                            CompleteLocked(b, b.Error);
                            break;
                        case BatchState.AwaitingBump or BatchState.AwaitingResend when b.MayHaveBeenWritten:
                            CompleteLocked(b, new ProduceException(ErrorCode.OutOfOrderSequenceNumber, $"A batch of {b.Records.Count} records for {p.TopicPartition} had a send of unknown outcome before the sequence gap forced an epoch bump; it is not re-sent in the new epoch, so it may or may not be in the log.", b.LastError, p.TopicPartition, null, possiblyPersisted: true));
                            break;
                        default:
                            b.State = BatchState.Unsent;
                            again.Add(b);
                            break;
                    }
                }

                p.Window.Clear();
                p.Gapped = false;
                for (int i = again.Count - 1; i >= 0; i--)
                {
                    p.Ready.AddFirst(again[i]);
                }
            }
        }

        _bumpPending = false;
        _bumpInProgress = false;
        PumpAllLocked(fx);
    }

    // ---------------------------------------------------------------- fatal errors and completion

    private void SetFatal(ProduceException error)
    {
        var fx = new Effects();
        lock (_sync)
        {
            FenceLocked(error);
        }

        Run(fx);
    }

    private void FenceLocked(ProduceException error) => FailAllLocked(error, fatal: true);

    /// <summary>Reports every record not yet reported as failed with <paramref name="error"/> and refuses new ones.</summary>
    /// <param name="error">The failure.</param>
    /// <param name="fatal">A fatal error (fenced, unrecoverable): logged as such. False for a forced close.</param>
    private void FailAllLocked(ProduceException error, bool fatal)
    {
        if (_fatal is not null)
        {
            return;
        }

        _fatal = error;
        if (fatal)
        {
            LogFatal(error.ErrorCode, error.Message);
        }

        foreach (TopicState t in _topics.Values)
        {
            foreach (RecordEntry e in t.Pending)
            {
                FailRecordLocked(e, t.Name, e.ExplicitPartition ?? -1, error);
            }

            t.Pending.Clear();
            foreach (PartitionState p in t.Partitions)
            {
                foreach (ProducerBatch b in p.Window)
                {
                    // A batch with a send in flight (it may still land at a partition that has not seen the newer epoch) or of unknown
                    // outcome may be in the log: say so, or a record stored there is reported as known not to be.
                    bool possiblyPersisted = b.State == BatchState.InFlight || b.MayHaveBeenWritten || b.Error?.PossiblyPersisted == true;
                    CompleteLocked(b, b.State switch
                    {
                        BatchState.Acked => null,
                        BatchState.Failed when b.Error is not null => b.Error, // its own outcome was known before this one
                        _ when !fatal && b.LastError is { } last => new ProduceException(
                            error.ErrorCode, $"{error.Message} Last send of the batch: {last.Message}", last, p.TopicPartition, null, possiblyPersisted),
                        _ => possiblyPersisted ? error.AsPossiblyPersisted() : error,
                    });
                }

                p.Window.Clear();
                foreach (ProducerBatch b in p.Ready)
                {
                    CompleteLocked(b, error);
                }

                p.Ready.Clear();
                if (p.Open is { } open)
                {
                    p.Open = null;
                    CompleteLocked(open, error);
                }

                p.Timer?.Dispose();
                p.Timer = null;
            }
        }

        _buffer.Close(error);
    }

    private void CompleteLocked(ProducerBatch b, ProduceException? error)
    {
        if (b.State == BatchState.Completed)
        {
            return;
        }

        b.State = BatchState.Completed;
        _buffer.Release(b.ReservedBytes);
        PartitionState p = b.Partition;
        ReturnBuilder(p.Topic, b);
        _completions.Writer.TryWrite(new Completion(b.Records, p.Topic.Name, p.Index, b.BaseOffset, b.IsDuplicate, error));
    }

    private void FailRecordLocked(RecordEntry entry, string topic, int partition, ProduceException error)
    {
        _buffer.Release(entry.Size);
        _completions.Writer.TryWrite(new Completion([entry], topic, partition, -1, false, error));
    }

    private async Task DispatchAsync()
    {
        await foreach (Completion c in _completions.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            TopicPartition? tp = c.Partition >= 0 ? new TopicPartition(c.Topic, c.Partition) : null;
            for (int i = 0; i < c.Records.Count; i++)
            {
                RecordEntry e = c.Records[i];
                ProduceException? error = c.Error?.ForRecord(tp, e.Message);

                // The record's outcome as a value on this stack frame; each way of reporting it derives from this one.
                var outcome = new DeliveryOutcome(c.Topic, c.Partition, error is null ? c.BaseOffset + i : -1, e.Timestamp, error is null && c.IsDuplicate, e.Message, error);
                if (e.Tcs is { } tcs)
                {
                    _ = error is null ? tcs.TrySetResult(outcome.ToResult()) : tcs.TrySetException(error);
                }

                if (e.Handler is { } handler)
                {
                    try
                    {
                        if (handler is DeliveryCallback callback)
                        {
                            callback(in outcome); // nothing allocated
                        }
                        else
                        {
                            ((Action<DeliveryReport>)handler)(outcome.ToReport()); // one object per record
                        }
                    }
#pragma warning disable CA1031 // A throwing user handler must not stop the dispatcher.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        LogHandlerFailed(ex);
                    }
                }
            }

            int reported = c.Records.Count;
            bool reuse = c.Records.Capacity >= 64;
            if (reuse)
            {
                c.Records.Clear();
            }

            lock (_sync)
            {
                if (reuse && _recordLists.Count < MaxPooledRecordLists)
                {
                    _recordLists.Push(c.Records);
                }

                _pendingRecords -= reported;
                if (_pendingRecords == 0 && _idle is { } idle)
                {
                    _idle = null;
                    idle.TrySetResult();
                }
            }
        }
    }

    private void Run(Effects fx)
    {
        foreach (TopicState t in fx.Loads)
        {
            _ = LoadTopicAsync(t);
        }

        if (fx.StartInit)
        {
            _ = InitProducerIdAsync();
        }

        if (fx.StartBump)
        {
            _ = BumpEpochAsync();
        }

        foreach (PartitionState p in fx.Issues)
        {
            IssueSends(p);
        }
    }

    // ---------------------------------------------------------------- topic metadata

    private async Task LoadTopicAsync(TopicState t)
    {
        DateTimeOffset deadline = _time.GetUtcNow() + _options.DeliveryTimeout;
        for (int attempt = 1; ; attempt++)
        {
            ProduceException? failure;
            try
            {
                TopicResult result = await CallFaults.WithDeadline(_transport.GetTopicMetadataAsync(t.Name, allowAutoTopicCreation: true), _options.RequestTimeout, _time, _transport).ConfigureAwait(false);
                if (result.Error == ErrorCode.None && result.Topic is { } description)
                {
                    var fx = new Effects();
                    lock (_sync)
                    {
                        t.SetDescription(description, _options.BatchSize, this);
                        List<RecordEntry> pending = [.. t.Pending];
                        t.Pending.Clear();
                        if (_fatal is null)
                        {
                            foreach (RecordEntry e in pending)
                            {
                                RouteLocked(t, e, fx);
                            }
                        }
                    }

                    Run(fx);
                    return;
                }

                failure = result.Error is ErrorCode.UnknownTopicOrPartition or ErrorCode.InvalidTopic or ErrorCode.None || !result.Error.IsRetriable()
                    ? new ProduceException(result.Error == ErrorCode.None ? ErrorCode.UnknownTopicOrPartition : result.Error, result.Message ?? $"Topic '{t.Name}' does not exist.")
                    : null;
            }
            catch (Exception ex) when (CallFaults.IsTransient(ex))
            {
                failure = _time.GetUtcNow() >= deadline
                    ? new DeliveryTimeoutException($"The metadata of topic '{t.Name}' could not be read within the delivery timeout: {ex.Message}", ex)
                    : null;
            }
#pragma warning disable CA1031 // Reported to every pending record.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = new ProduceException(ErrorCode.UnknownServerError, $"Reading the metadata of topic '{t.Name}' failed: {ex.Message}", ex);
            }

            if (failure is not null)
            {
                lock (_sync)
                {
                    foreach (RecordEntry e in t.Pending)
                    {
                        FailRecordLocked(e, t.Name, e.ExplicitPartition ?? -1, failure);
                    }

                    t.Pending.Clear();
                    _topics.Remove(t.Name);
                }

                return;
            }

            await Task.Delay(CallFaults.Backoff(attempt, _options.RetryBackoff, _options.RetryBackoffMax), _time).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- state types

    // Handler: an Action<DeliveryReport>, a DeliveryCallback, or null.
    private readonly record struct RecordEntry(Message Message, long Timestamp, int Size, int? ExplicitPartition, Delegate? Handler, TaskCompletionSource<DeliveryResult>? Tcs);

    private readonly record struct Completion(List<RecordEntry> Records, string Topic, int Partition, long BaseOffset, bool IsDuplicate, ProduceException? Error);

    /// <summary>Work decided under the lock and started after it is released (lists created on first use).</summary>
    private sealed class Effects
    {
        private List<PartitionState>? _issues;
        private List<TopicState>? _loads;

        /// <summary>Partitions with sends queued in <see cref="PartitionState.ToIssue"/>.</summary>
        public IReadOnlyList<PartitionState> Issues => (IReadOnlyList<PartitionState>?)_issues ?? [];

        public IReadOnlyList<TopicState> Loads => (IReadOnlyList<TopicState>?)_loads ?? [];

        public void AddIssue(PartitionState partition)
        {
            _issues ??= [];
            if (_issues.Count == 0 || !ReferenceEquals(_issues[^1], partition))
            {
                _issues.Add(partition);
            }
        }

        public void AddLoad(TopicState topic) => (_loads ??= []).Add(topic);

        /// <summary>Empties it for reuse.</summary>
        public void Clear()
        {
            _issues?.Clear();
            _loads?.Clear();
            StartInit = false;
            StartBump = false;
            Now = default;
        }

        /// <summary>The clock when a record was handed over (<c>default</c> on other paths): lets an append notice an expired linger.</summary>
        public DateTimeOffset Now { get; set; }

        public bool StartInit { get; set; }

        public bool StartBump { get; set; }
    }

    private sealed class TopicState(string name)
    {
        public string Name { get; } = name;

        public PartitionState[] Partitions { get; private set; } = [];

        public int MaxMessageBytes { get; private set; }

        public int MaxBatchBytes { get; private set; }

        public List<RecordEntry> Pending { get; } = [];

        public Stack<RecordBatchBuilder> BuilderPool { get; } = new();

        public int StickyPartition { get; set; } = -1;

        public ProducerBatch? StickyBatch { get; set; }

        public void SetDescription(TopicDescription description, int batchSize, Producer owner)
        {
            MaxMessageBytes = description.Settings?.MaxMessageBytes ?? TopicSettings.DefaultMaxMessageBytes;
            MaxBatchBytes = Math.Min(batchSize, MaxMessageBytes);
            var partitions = new PartitionState[description.PartitionCount];
            for (int i = 0; i < partitions.Length; i++)
            {
                partitions[i] = new PartitionState(this, i, owner);
            }

            Partitions = partitions;
        }
    }

    private sealed class PartitionState(TopicState topic, int index, Producer owner)
    {
        public TopicState Topic { get; } = topic;

        public int Index { get; } = index;

        public Producer Owner { get; } = owner;

        public TopicPartition TopicPartition { get; } = new(topic.Name, index);

        /// <summary>The batch taking records.</summary>
        public ProducerBatch? Open { get; set; }

        /// <summary>Closed batches not yet sent in the current epoch, in order.</summary>
        public LinkedList<ProducerBatch> Ready { get; } = new();

        /// <summary>Sent batches not yet reported, in sequence order (finished ones stay until every older one is finished).</summary>
        public List<ProducerBatch> Window { get; } = [];

        /// <summary>Base sequence of the next batch to stamp.</summary>
        public int NextSequence { get; set; }

        /// <summary>Records in the last batch closed here: the initial capacity of the next batch's record list.</summary>
        public int LastBatchRecords { get; set; }

        /// <summary>When a batch of this partition was last sent (<see cref="ProducerOptions.SendWhenIdle"/> spacing).</summary>
        public DateTimeOffset LastSentAt { get; set; } = DateTimeOffset.MinValue;

        /// <summary>Recent round trip of an acknowledged send (moving average, 1/8 per sample).</summary>
        public TimeSpan RoundTrip { get; set; } = TimeSpan.FromMilliseconds(1);

        /// <summary>
        /// When (<see cref="TimeProvider.GetTimestamp"/>) the newest batch this partition acknowledged in the current producer id
        /// and epoch was first sent; <c>null</c> before one was (also after an epoch bump). See <see cref="MaxInFlightLocked"/>.
        /// </summary>
        public long? ConfirmedAt { get; set; }

        /// <summary>Sends decided under the lock, in sequence order, not yet issued. See <see cref="IssueSends"/>.</summary>
        public Queue<ProducerBatch> ToIssue { get; } = new();

        /// <summary>A thread is issuing <see cref="ToIssue"/>.</summary>
        public bool Issuing { get; set; }

        /// <summary>An out-of-order reply on the oldest batch: waits for the epoch bump, sends nothing.</summary>
        public bool Gapped { get; set; }

        public ITimer? Timer { get; set; }

        public DateTimeOffset TimerDue { get; set; } = DateTimeOffset.MaxValue;
    }

    private sealed class ProducerBatch(PartitionState partition, RecordBatchBuilder builder, DateTimeOffset createdAt, DateTimeOffset lingerDue, DateTimeOffset deadline)
    {
        public PartitionState Partition { get; } = partition;

        public RecordBatchBuilder? Builder { get; set; } = builder;

        public List<RecordEntry> Records { get; set; } = null!;

        public long ReservedBytes { get; set; }

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public DateTimeOffset LingerDue { get; } = lingerDue;

        /// <summary>An append already pumped the partition because this batch's linger was up.</summary>
        public bool LingerPumped { get; set; }

        public DateTimeOffset Deadline { get; } = deadline;

        /// <summary>
        /// The sealed batch, empty until the first stamp: a slice of <see cref="Builder"/>'s buffer (valid while the batch holds the
        /// builder); later stamps rewrite its producer fields in place.
        /// </summary>
        public Memory<byte> Bytes { get; set; }


        /// <summary>Grain calls carrying <see cref="Bytes"/> that Orleans has not finished (see <see cref="TrackCall"/>).</summary>
        public int CallsOutstanding;

        public short ProducerEpoch { get; set; } = -1;

        public int BaseSequence { get; set; } = -1;

        public BatchState State { get; set; }

        public int Attempts { get; set; }

        /// <summary>When (<see cref="TimeProvider.GetTimestamp"/>) the batch was stamped and first sent in its current epoch.</summary>
        public long StampedAt { get; set; }

        public DateTimeOffset RetryAt { get; set; }

        /// <summary>When the last send of this batch started.</summary>
        public DateTimeOffset SentAt { get; set; }

        /// <summary>A send of this batch ended without a definite answer: it may be in the log.</summary>
        public bool MayHaveBeenWritten { get; set; }

        /// <summary>Every older batch of the partition was finished when the last send started.</summary>
        public bool OlderFinishedAtSend { get; set; }

        /// <summary>
        /// The last send was refused as out of order while an older batch was unfinished: it overtook that batch in transit (Orleans
        /// does not keep message order) and was not written.
        /// </summary>
        public bool Overtaken { get; set; }

        /// <summary>The last send is a resend of an overtaken batch, issued in sequence order behind every older unfinished batch.</summary>
        public bool OrderedResend { get; set; }

        public Exception? LastError { get; set; }

        public ProduceException? Error { get; set; }

        public long BaseOffset { get; set; } = -1;

        public bool IsDuplicate { get; set; }
    }

    // ---------------------------------------------------------------- logging

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Producer id {ProducerId} epoch {ProducerEpoch} obtained (identity {ProducerIdentity})")]
    private partial void LogProducerId(long producerId, short producerEpoch, string? producerIdentity);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Send to {TopicPartition} (base sequence {BaseSequence}, attempt {Attempt}) failed: {Fault}")]
    private partial void LogSendFailed(TopicPartition topicPartition, int baseSequence, int attempt, CallFault fault, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Resending to {TopicPartition}: epoch {ProducerEpoch} base sequence {BaseSequence}, attempt {Attempt}")]
    private partial void LogResend(TopicPartition topicPartition, short producerEpoch, int baseSequence, int attempt);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Duplicate acknowledged at {TopicPartition}: base sequence {BaseSequence} was written at offset {BaseOffset}")]
    private partial void LogDuplicate(TopicPartition topicPartition, int baseSequence, long baseOffset);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Sequence gap at {TopicPartition}: producer id {ProducerId} epoch {ProducerEpoch} base sequence {BaseSequence}, partition expects {ExpectedSequence}; bumping the epoch")]
    private partial void LogGap(TopicPartition topicPartition, long producerId, short producerEpoch, int baseSequence, int expectedSequence);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Epoch bumped: producer id {OldProducerId} epoch {OldEpoch} -> producer id {ProducerId} epoch {ProducerEpoch}; every partition restarts at sequence 0")]
    private partial void LogEpochBumped(long oldProducerId, short oldEpoch, long producerId, short producerEpoch);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "Producer failed for good ({ErrorCode}): {Reason}")]
    private partial void LogFatal(ErrorCode errorCode, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Batch for {TopicPartition} (base sequence {BaseSequence}) expired after {Attempts} sends; possibly persisted: {PossiblyPersisted}")]
    private partial void LogBatchExpired(TopicPartition topicPartition, int baseSequence, int attempts, bool possiblyPersisted);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Registry call failed (attempt {Attempt}); retrying")]
    private partial void LogRegistryRetry(int attempt, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "A delivery handler threw")]
    private partial void LogHandlerFailed(Exception exception);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "Retriable error at {TopicPartition} (base sequence {BaseSequence}): {ErrorCode} {Reason}")]
    private partial void LogRetriableError(TopicPartition topicPartition, int baseSequence, ErrorCode errorCode, string? reason);
}
