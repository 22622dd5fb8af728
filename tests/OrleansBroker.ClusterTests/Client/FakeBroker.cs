using System.Collections.Concurrent;
using OrleansBroker.Client.Internal;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>
/// An in-memory broker behind the SDK's transport seam: partitions that follow SEMANTICS.md's append rules (fencing,
/// 5-batch duplicate window, out-of-order detection, accept-any-sequence for an unknown producer), a producer-id registry
/// with the KIP-360 bump, and a topic catalog. Hooks let a test answer a produce call itself (lose the reply, fail, delay),
/// and <see cref="HoldProduceCalls"/> reorders deliveries as a network without message order would (Orleans gives none).
/// </summary>
internal sealed class FakeBroker : IBrokerTransport
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, TopicDescription> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, int), FakePartition> _partitions = [];
    private readonly Dictionary<long, short> _epochs = [];
    private readonly Dictionary<string, long> _identities = new(StringComparer.Ordinal);
    private long _nextPid = 1000;
    private HeldDeliveries? _held;

    /// <summary>Every produce call in arrival order (bytes copied).</summary>
    public ConcurrentQueue<ProduceCall> ProduceCalls { get; } = new();

    /// <summary>The batch arguments as the producer passed them (not copied): what a call still waiting in Orleans would send.</summary>
    public ConcurrentQueue<ReadOnlyMemory<byte>> ReceivedBatches { get; } = new();

    /// <summary>Every registry call in arrival order.</summary>
    public ConcurrentQueue<InitProducerIdRequest> RegistryCalls { get; } = new();

    /// <summary>Every ListOffsets call (topic, partition), in arrival order.</summary>
    public ConcurrentQueue<(string Topic, int Partition)> ListOffsetsCalls { get; } = new();

    /// <summary>When set and returning a task, answers a ListOffsets call instead of the partition.</summary>
    public Func<string, int, Task<PartitionOffsets>?>? OnListOffsets { get; set; }

    /// <summary>
    /// Answers a produce call instead of the partition: given the call number (1-based) and the call, return a task, or
    /// <c>null</c> to let the partition append. <see cref="ProduceCall.Apply"/> appends for real (e.g. then lose the reply).
    /// </summary>
    public Func<ProduceCall, Task<ProduceResult>?>? OnProduce { get; set; }

    /// <summary>Answers a fetch call instead of the partition, or <c>null</c>.</summary>
    public Func<string, int, long, int, Task<FetchResult>?>? OnFetch { get; set; }

    /// <summary>Scripted answers, one per produce call in arrival order, tried before <see cref="OnProduce"/>; a script returning <c>null</c> appends.</summary>
    public ConcurrentQueue<Func<ProduceCall, Task<ProduceResult>?>> Script { get; } = new();

    /// <summary>Fires when a produce call arrives (after it is recorded).</summary>
    public event Action<ProduceCall>? ProduceCallArrived;

    public CancellationToken ConnectionLost => CancellationToken.None;

    /// <summary>
    /// When true, an epoch bump (<c>InitProducerId(pid, epoch)</c>) returns a new producer id at epoch 0, as the registry does
    /// for an exhausted epoch (SEMANTICS.md): no partition then has state for the producer id.
    /// </summary>
    public bool NewProducerIdOnBump { get; set; }

    /// <summary>
    /// Reorder deliveries: the next <paramref name="count"/> produce calls are held (recorded in <see cref="ProduceCalls"/>, not
    /// applied) until the test releases them with <see cref="HeldDeliveries.Release(IReadOnlyList{int})"/> (a chosen order) or
    /// <see cref="HeldDeliveries.ReleaseShuffled"/> (a seeded random order). Held calls take precedence over
    /// <see cref="Script"/> and <see cref="OnProduce"/>; calls after the first <paramref name="count"/> pass straight through.
    /// </summary>
    /// <param name="count">Calls to hold; <see cref="int.MaxValue"/> holds every later call.</param>
    /// <param name="answerInline">Answer released calls on the releasing thread, one after the other, so the producer handles each
    /// answer before the next is given (a chosen processing order); by default the answers are handled on the thread pool, in any order.</param>
    /// <returns>The held calls.</returns>
    public HeldDeliveries HoldProduceCalls(int count, bool answerInline = false)
    {
        var held = new HeldDeliveries(count, answerInline);
        lock (_sync)
        {
            _held = held;
        }

        return held;
    }

    public void AddTopic(string name, int partitions, int maxMessageBytes = TopicSettings.DefaultMaxMessageBytes)
    {
        lock (_sync)
        {
            _topics[name] = new TopicDescription(name, partitions, new TopicSettings { MaxMessageBytes = maxMessageBytes });
            for (int i = 0; i < partitions; i++)
            {
                _partitions[(name, i)] = new FakePartition();
            }
        }
    }

    public FakePartition Partition(string topic, int partition)
    {
        lock (_sync)
        {
            return _partitions[(topic, partition)];
        }
    }

    public Task<ProduceResult> ProduceAsync(string topic, int partition, ReadOnlyMemory<byte> batch)
    {
        FakePartition? p;
        lock (_sync)
        {
            _partitions.TryGetValue((topic, partition), out p);
        }

        var call = new ProduceCall(ProduceCalls.Count + 1, topic, partition, batch.ToArray(), p);
        ProduceCalls.Enqueue(call);
        ReceivedBatches.Enqueue(batch);
        ProduceCallArrived?.Invoke(call);
        HeldDeliveries? held;
        lock (_sync)
        {
            held = _held;
        }

        if (held is not null && held.TryHold(call, out Task<ProduceResult>? reply))
        {
            return reply;
        }

        if (Script.TryDequeue(out Func<ProduceCall, Task<ProduceResult>?>? scripted))
        {
            return scripted(call) ?? Task.FromResult(call.Apply());
        }

        return OnProduce?.Invoke(call) ?? Task.FromResult(call.Apply());
    }

    public Task<FetchResult> FetchAsync(string topic, int partition, long offset, int maxBytes)
    {
        if (OnFetch?.Invoke(topic, partition, offset, maxBytes) is { } hooked)
        {
            return hooked;
        }

        lock (_sync)
        {
            return Task.FromResult(_partitions.TryGetValue((topic, partition), out FakePartition? p)
                ? p.Fetch(offset, maxBytes)
                : new FetchResult(ErrorCode.UnknownTopicOrPartition, -1, -1, []));
        }
    }

    public Task<PartitionOffsets> ListOffsetsAsync(string topic, int partition)
    {
        ListOffsetsCalls.Enqueue((topic, partition));
        if (OnListOffsets?.Invoke(topic, partition) is { } hooked)
        {
            return hooked;
        }

        lock (_sync)
        {
            return Task.FromResult(_partitions.TryGetValue((topic, partition), out FakePartition? p)
                ? new PartitionOffsets(ErrorCode.None, p.LogStartOffset, p.LogEndOffset, p.LogEndOffset)
                : new PartitionOffsets(ErrorCode.UnknownTopicOrPartition, -1, -1, -1));
        }
    }

    public Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings)
    {
        lock (_sync)
        {
            if (_topics.ContainsKey(name))
            {
                return Task.FromResult(new TopicResult(ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.", null));
            }
        }

        AddTopic(name, partitionCount, settings?.MaxMessageBytes ?? TopicSettings.DefaultMaxMessageBytes);
        return DescribeTopicAsync(name);
    }

    public Task<TopicResult> DescribeTopicAsync(string name)
    {
        lock (_sync)
        {
            return Task.FromResult(_topics.TryGetValue(name, out TopicDescription? d)
                ? new TopicResult(ErrorCode.None, null, d)
                : new TopicResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist.", null));
        }
    }

    /// <summary>Metadata requests (producers use them), in order: the topic name and whether auto-creation was allowed.</summary>
    public ConcurrentQueue<(string Name, bool AllowAutoTopicCreation)> MetadataRequests { get; } = new();

    public Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation)
    {
        MetadataRequests.Enqueue((name, allowAutoTopicCreation));
        return DescribeTopicAsync(name);
    }

    public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync()
    {
        lock (_sync)
        {
            return Task.FromResult<IReadOnlyList<TopicDescription>>([.. _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal)]);
        }
    }

    public Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request)
    {
        RegistryCalls.Enqueue(request);
        lock (_sync)
        {
            if (request.ProducerId < 0)
            {
                if (request.ProducerIdentity is { } identity && _identities.TryGetValue(identity, out long stable))
                {
                    short bumped = (short)(_epochs[stable] + 1);
                    _epochs[stable] = bumped;
                    return Task.FromResult(new InitProducerIdResult(ErrorCode.None, stable, bumped));
                }

                long pid = _nextPid++;
                _epochs[pid] = 0;
                if (request.ProducerIdentity is { } newIdentity)
                {
                    _identities[newIdentity] = pid;
                }

                return Task.FromResult(new InitProducerIdResult(ErrorCode.None, pid, 0));
            }

            short current = _epochs.GetValueOrDefault(request.ProducerId, (short)-1);
            if (request.ProducerEpoch == current && NewProducerIdOnBump)
            {
                long pid = _nextPid++;
                _epochs[pid] = 0;
                return Task.FromResult(new InitProducerIdResult(ErrorCode.None, pid, 0));
            }

            if (request.ProducerEpoch == current)
            {
                _epochs[request.ProducerId] = (short)(current + 1);
                return Task.FromResult(new InitProducerIdResult(ErrorCode.None, request.ProducerId, (short)(current + 1)));
            }

            return Task.FromResult(request.ProducerEpoch == current - 1
                ? new InitProducerIdResult(ErrorCode.None, request.ProducerId, current)
                : new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1));
        }
    }
}

/// <summary>One produce call as the transport saw it.</summary>
internal sealed record ProduceCall(int Number, string Topic, int Partition, byte[] Batch, FakePartition? Target)
{
    public RecordBatchHeader Header
    {
        get
        {
            RecordBatchHeader.TryRead(Batch, out RecordBatchHeader header);
            return header;
        }
    }

    /// <summary>Appends the batch to the partition for real, following the append rules.</summary>
    public ProduceResult Apply() => Target?.Append(Batch) ?? ProduceResult.Failed(ErrorCode.UnknownTopicOrPartition, "no such partition");
}

/// <summary>
/// Produce calls held by <see cref="FakeBroker.HoldProduceCalls"/>: each waits, unapplied, until released; a release applies
/// the waiting calls to their partitions in the chosen order, then answers them in that order.
/// </summary>
internal sealed class HeldDeliveries(int capacity, bool answerInline = false)
{
    private readonly Lock _sync = new();
    private readonly List<(ProduceCall Call, TaskCompletionSource<ProduceResult> Reply)> _waiting = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _arrivalWaiters = [];
    private TaskCompletionSource _nextArrival = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;

    /// <summary>Every call held so far, in arrival order, and whether it was released (for failure messages).</summary>
    private readonly List<(ProduceCall Call, bool Released)> _log = [];

    /// <summary>Calls held so far (released or not).</summary>
    public int Arrived
    {
        get
        {
            lock (_sync)
            {
                return _arrived;
            }
        }
    }

    /// <summary>Calls held and not yet released.</summary>
    public int Waiting
    {
        get
        {
            lock (_sync)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Completes when <paramref name="count"/> calls have been held in total (at once if they already were).</summary>
    /// <param name="count">Total held calls to wait for.</param>
    /// <returns>A task completing then.</returns>
    public Task WaitForArrivedAsync(int count)
    {
        lock (_sync)
        {
            if (_arrived >= count)
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _arrivalWaiters.Add((count, signal));
            return signal.Task;
        }
    }

    /// <summary>As <see cref="WaitForArrivedAsync(int)"/>, failing after <paramref name="timeout"/> with what did arrive.</summary>
    /// <param name="count">Total held calls to wait for.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <returns>A task completing then.</returns>
    /// <exception cref="TimeoutException">Fewer calls arrived; the message lists the ones that did (sequence, released or waiting).</exception>
    public async Task WaitForArrivedAsync(int count, TimeSpan timeout)
    {
        try
        {
            await WaitForArrivedAsync(count).WaitAsync(timeout);
        }
        catch (TimeoutException ex)
        {
            string arrived;
            lock (_sync)
            {
                arrived = string.Join(", ", _log.Select(c => $"s{c.Call.Header.BaseSequence}{(c.Released ? "" : " (waiting)")}"));
            }

            throw new TimeoutException($"{Arrived} of {count} produce calls arrived within {timeout.TotalSeconds} s: {arrived}.", ex);
        }
    }

    /// <summary>Completes when at least one call is waiting (at once if one already is).</summary>
    /// <returns>A task completing then.</returns>
    public Task WaitForWaitingAsync()
    {
        lock (_sync)
        {
            return _waiting.Count > 0 ? Task.CompletedTask : _nextArrival.Task;
        }
    }

    /// <summary>
    /// Releases every waiting call: applies them to their partitions in the given order (indexes into the waiting calls, in
    /// arrival order; each index exactly once), then answers them in that order.
    /// </summary>
    /// <param name="order">A permutation of 0 .. waiting-1.</param>
    /// <returns>The released calls, in delivery order.</returns>
    public IReadOnlyList<ProduceCall> Release(IReadOnlyList<int> order) => ReleaseCore(_ => order);

    /// <summary>
    /// Releases every waiting call: applies them to their partitions in <paramref name="applyOrder"/>, then answers them in
    /// <paramref name="answerOrder"/> (both permutations of the waiting calls, in arrival order). With answers handled inline
    /// (<see cref="FakeBroker.HoldProduceCalls"/>), the producer sees the answers in exactly that order.
    /// </summary>
    /// <param name="applyOrder">Order in which the partition sees the calls.</param>
    /// <param name="answerOrder">Order in which the producer gets the answers.</param>
    /// <returns>The released calls, in apply order.</returns>
    public IReadOnlyList<ProduceCall> Release(IReadOnlyList<int> applyOrder, IReadOnlyList<int> answerOrder) => ReleaseCore(_ => applyOrder, answerOrder);

    /// <summary>Releases every waiting call with the oldest one delivered last ("first delivered last"), the others in arrival order.</summary>
    /// <returns>The released calls, in delivery order.</returns>
    public IReadOnlyList<ProduceCall> ReleaseOldestLast() => ReleaseCore(n => [.. Enumerable.Range(1, Math.Max(n - 1, 0)), .. Enumerable.Range(0, Math.Min(n, 1))]);

    /// <summary>Releases every waiting call in a random order drawn from <paramref name="random"/>.</summary>
    /// <param name="random">A seeded generator, so a failing order can be replayed.</param>
    /// <returns>The released calls, in delivery order.</returns>
    public IReadOnlyList<ProduceCall> ReleaseShuffled(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return ReleaseCore(n =>
        {
            int[] order = [.. Enumerable.Range(0, n)];
            random.Shuffle(order);
            return order;
        });
    }

    /// <summary>Holds the call if the capacity is not used up.</summary>
    internal bool TryHold(ProduceCall call, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Task<ProduceResult>? reply)
    {
        List<TaskCompletionSource> signals = [];
        TaskCompletionSource next;
        lock (_sync)
        {
            if (_arrived >= capacity)
            {
                reply = null;
                return false;
            }

            _arrived++;
            var tcs = new TaskCompletionSource<ProduceResult>(answerInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Add((call, tcs));
            _log.Add((call, false));
            reply = tcs.Task;
            for (int i = _arrivalWaiters.Count - 1; i >= 0; i--)
            {
                if (_arrivalWaiters[i].Count <= _arrived)
                {
                    signals.Add(_arrivalWaiters[i].Signal);
                    _arrivalWaiters.RemoveAt(i);
                }
            }

            next = _nextArrival;
            _nextArrival = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        next.TrySetResult();
        foreach (TaskCompletionSource signal in signals)
        {
            signal.TrySetResult();
        }

        return true;
    }

    private static void CheckPermutation(IReadOnlyList<int> order, int count, string name)
    {
        if (order.Count != count || order.Distinct().Count() != count || order.Any(i => i < 0 || i >= count))
        {
            throw new ArgumentException($"The order must be a permutation of 0..{count - 1}, was [{string.Join(", ", order)}].", name);
        }
    }

    private List<ProduceCall> ReleaseCore(Func<int, IReadOnlyList<int>> chooseOrder, IReadOnlyList<int>? answerOrder = null)
    {
        List<(ProduceCall Call, TaskCompletionSource<ProduceResult> Reply)> batch;
        lock (_sync)
        {
            batch = [.. _waiting];
            _waiting.Clear();
            for (int i = 0; i < _log.Count; i++)
            {
                _log[i] = (_log[i].Call, true);
            }
        }

        IReadOnlyList<int> order = chooseOrder(batch.Count);
        CheckPermutation(order, batch.Count, nameof(chooseOrder));
        answerOrder ??= order;
        CheckPermutation(answerOrder, batch.Count, nameof(answerOrder));

        // Applied in one order, answered in the other (by default the same); results by call index.
        var results = new ProduceResult[batch.Count];
        foreach (int call in order)
        {
            results[call] = batch[call].Call.Apply();
        }

        foreach (int call in answerOrder)
        {
            batch[call].Reply.TrySetResult(results[call]);
        }

        return [.. order.Select(i => batch[i].Call)];
    }
}

/// <summary>An in-memory partition log with Kafka's producer-state rules.</summary>
internal sealed class FakePartition
{
    private readonly Lock _sync = new();
    private readonly List<byte[]> _batches = [];
    private readonly Dictionary<long, ProducerEntry> _producers = [];

    public long LogStartOffset => 0;

    public long LogEndOffset
    {
        get
        {
            lock (_sync)
            {
                return _batches.Count == 0 ? 0 : Header(_batches[^1]).LastOffset + 1;
            }
        }
    }

    /// <summary>The stored batches' headers.</summary>
    public IReadOnlyList<RecordBatchHeader> Batches
    {
        get
        {
            lock (_sync)
            {
                return [.. _batches.Select(Header)];
            }
        }
    }

    /// <summary>Every stored record's value as UTF-8, in offset order.</summary>
    public IReadOnlyList<string> Values
    {
        get
        {
            lock (_sync)
            {
                return [.. _batches.SelectMany(b => RecordBatchReader.ReadRecords(b)).Select(r => r.Value is { } v ? System.Text.Encoding.UTF8.GetString(v.Span) : "<null>")];
            }
        }
    }

    /// <summary>Forgets every producer's state, as the broker does for producers idle longer than <c>ProducerIdExpiration</c>.</summary>
    /// <returns>How many producers were forgotten.</returns>
    public int ExpireProducers()
    {
        lock (_sync)
        {
            int count = _producers.Count;
            _producers.Clear();
            return count;
        }
    }

    public ProduceResult Append(byte[] bytes)
    {
        lock (_sync)
        {
            BatchFormatError format = RecordBatch.Validate(bytes, TopicSettings.DefaultMaxMessageBytes, out RecordBatchHeader h);
            if (format != BatchFormatError.None)
            {
                return ProduceResult.Failed(ErrorCode.CorruptMessage, format.ToString());
            }

            if (h.HasProducerId)
            {
                if (_producers.TryGetValue(h.ProducerId, out ProducerEntry? entry))
                {
                    if (h.ProducerEpoch < entry.Epoch)
                    {
                        return new ProduceResult(ErrorCode.InvalidProducerEpoch, -1, -1, 0, false, -1, entry.Epoch, "fenced");
                    }

                    if (h.ProducerEpoch == entry.Epoch)
                    {
                        foreach ((int first, int last, long offset, long ts) in entry.Recent)
                        {
                            if (first == h.BaseSequence && last == h.LastSequence)
                            {
                                return new ProduceResult(ErrorCode.None, offset, ts, 0, true, -1, -1, null);
                            }
                        }

                        int expected = RecordBatchHeader.IncrementSequence(entry.LastSequence, 1);
                        if (h.BaseSequence != expected)
                        {
                            return new ProduceResult(ErrorCode.OutOfOrderSequenceNumber, -1, -1, 0, false, expected, -1, $"expected {expected}");
                        }
                    }
                    else if (h.BaseSequence != 0)
                    {
                        return new ProduceResult(ErrorCode.OutOfOrderSequenceNumber, -1, -1, 0, false, 0, -1, "new epoch must start at 0");
                    }
                }
            }

            long baseOffset = _batches.Count == 0 ? 0 : Header(_batches[^1]).LastOffset + 1;
            byte[] stored = bytes.ToArray();
            RecordBatch.SetBaseOffset(stored, baseOffset);
            _batches.Add(stored);
            if (h.HasProducerId)
            {
                if (!_producers.TryGetValue(h.ProducerId, out ProducerEntry? entry) || entry.Epoch != h.ProducerEpoch)
                {
                    entry = new ProducerEntry { Epoch = h.ProducerEpoch };
                    _producers[h.ProducerId] = entry;
                }

                entry.LastSequence = h.LastSequence;
                entry.Recent.Add((h.BaseSequence, h.LastSequence, baseOffset, h.MaxTimestamp));
                if (entry.Recent.Count > 5)
                {
                    entry.Recent.RemoveAt(0);
                }
            }

            return new ProduceResult(ErrorCode.None, baseOffset, h.MaxTimestamp, 0, false, -1, -1, null);
        }
    }

    public FetchResult Fetch(long offset, int maxBytes)
    {
        lock (_sync)
        {
            long end = _batches.Count == 0 ? 0 : Header(_batches[^1]).LastOffset + 1;
            if (offset < 0 || offset > end)
            {
                return new FetchResult(ErrorCode.OffsetOutOfRange, end, 0, []);
            }

            var buffer = new List<byte>();
            foreach (byte[] b in _batches)
            {
                if (Header(b).LastOffset < offset)
                {
                    continue;
                }

                if (buffer.Count > 0 && buffer.Count + b.Length > maxBytes)
                {
                    break;
                }

                buffer.AddRange(b);
            }

            return new FetchResult(ErrorCode.None, end, 0, [.. buffer]);
        }
    }

    private static RecordBatchHeader Header(byte[] b)
    {
        RecordBatchHeader.TryRead(b, out RecordBatchHeader h);
        return h;
    }

    private sealed class ProducerEntry
    {
        public short Epoch { get; init; }

        public int LastSequence { get; set; } = -1;

        public List<(int First, int Last, long Offset, long Timestamp)> Recent { get; } = [];
    }
}
