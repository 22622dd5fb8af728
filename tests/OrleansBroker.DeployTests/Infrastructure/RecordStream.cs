using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansBroker.Client;
using OrleansBroker.Testing;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>
/// A closed-loop workload through the SDK: per partition, records <c>p{partition}:{sequence}</c> (<see cref="RecordIdCodec"/>) sent in
/// order with at most <see cref="Window"/> unacknowledged, each outcome written to a <see cref="History"/>, each acknowledgement
/// time-stamped. A partition that stops serving stalls only its own loop.
/// </summary>
public sealed class RecordStream
{
    private readonly Producer _producer;
    private readonly ConcurrentDictionary<int, long> _firstAckAfterMark = new();
    private readonly ConcurrentDictionary<int, int> _sentAfterMark = new();
    private readonly TaskCompletionSource _acknowledgedEnough = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _acknowledged;
    private long _failed;
    private long _markTimestamp = long.MaxValue;
    private long _notifyAt = long.MaxValue;

    /// <summary>Creates the workload.</summary>
    /// <param name="producer">The SDK producer.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="partitions">Partitions written, 0 to <paramref name="partitions"/> - 1.</param>
    /// <param name="recordsPerPartition">Records sent to each partition.</param>
    /// <param name="recordSize">Value size in bytes.</param>
    /// <param name="window">Unacknowledged records per partition.</param>
    public RecordStream(Producer producer, string topic, int partitions, int recordsPerPartition, int recordSize, int window)
    {
        _producer = producer;
        Topic = topic;
        Partitions = partitions;
        RecordsPerPartition = recordsPerPartition;
        RecordSize = recordSize;
        Window = window;
        History = new History(partitions * recordsPerPartition);
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>Partitions written.</summary>
    public int Partitions { get; }

    /// <summary>Records per partition.</summary>
    public int RecordsPerPartition { get; }

    /// <summary>Value size in bytes.</summary>
    public int RecordSize { get; }

    /// <summary>Unacknowledged records per partition.</summary>
    public int Window { get; }

    /// <summary>What was sent and what the client answered.</summary>
    public History History { get; }

    /// <summary>Records acknowledged so far.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Records failed for good so far.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Completes when <see cref="Acknowledged"/> reaches the count given to <see cref="NotifyWhenAcknowledged"/>.</summary>
    public Task AcknowledgedEnough => _acknowledgedEnough.Task;

    /// <summary>The producer name of a partition's records: <c>p{partition}</c>.</summary>
    /// <param name="partition">The partition.</param>
    /// <returns>The name.</returns>
    public static string ProducerName(int partition) => $"p{partition}";

    /// <summary>Makes <see cref="AcknowledgedEnough"/> complete once <paramref name="count"/> records are acknowledged.</summary>
    /// <param name="count">The count.</param>
    public void NotifyWhenAcknowledged(long count)
    {
        Interlocked.Exchange(ref _notifyAt, count);
        if (Acknowledged >= count)
        {
            _acknowledgedEnough.TrySetResult();
        }
    }

    /// <summary>
    /// Marks now (e.g. a silo was killed): from here, records sent are counted per partition, and the first acknowledgement of such a
    /// record is remembered (a reply already on its way at the mark does not count: only records sent after it can show that the
    /// partition serves again).
    /// </summary>
    /// <returns>The mark's <see cref="Stopwatch"/> timestamp.</returns>
    public long Mark()
    {
        long now = Stopwatch.GetTimestamp();
        Interlocked.Exchange(ref _markTimestamp, now);
        return now;
    }

    /// <summary>Time from <see cref="Mark"/> to the first acknowledgement of a record of <paramref name="partition"/> sent after it; <c>null</c> when none.</summary>
    /// <param name="partition">The partition.</param>
    /// <returns>The time.</returns>
    public TimeSpan? FirstAckAfterMark(int partition) =>
        _firstAckAfterMark.TryGetValue(partition, out long at) ? Stopwatch.GetElapsedTime(Interlocked.Read(ref _markTimestamp), at) : null;

    /// <summary>Records of <paramref name="partition"/> sent after <see cref="Mark"/>.</summary>
    /// <param name="partition">The partition.</param>
    /// <returns>The count.</returns>
    public int SentAfterMark(int partition) => _sentAfterMark.GetValueOrDefault(partition);

    /// <summary>Sends every record and waits for every outcome.</summary>
    /// <param name="cancellationToken">Stops sending (outcomes of records already sent are still awaited).</param>
    /// <returns>A task that completes when every record has its outcome.</returns>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, Partitions).Select(p => Task.Run(() => RunPartitionAsync(p, cancellationToken), cancellationToken)));

    private async Task RunPartitionAsync(int partition, CancellationToken cancellationToken)
    {
        string producer = ProducerName(partition);
        var topicPartition = new TopicPartition(Topic, partition);
        using var window = new SemaphoreSlim(Window);
        var outcomes = new List<Task>(RecordsPerPartition);
        try
        {
            for (long sequence = 0; sequence < RecordsPerPartition; sequence++)
            {
                await window.WaitAsync(cancellationToken);
                string id = RecordIdCodec.FormatId(producer, sequence);
                History.RecordSent(producer, id, Topic, partition);
                bool afterMark = Stopwatch.GetTimestamp() > Interlocked.Read(ref _markTimestamp);
                if (afterMark)
                {
                    _sentAfterMark.AddOrUpdate(partition, 1, static (_, n) => n + 1);
                }

                Task<DeliveryResult> send = _producer.ProduceAsync(topicPartition, new Message { Value = RecordIdCodec.Encode(producer, sequence, RecordSize) }, CancellationToken.None);
                outcomes.Add(send.ContinueWith(t => OnOutcome(t, id, partition, afterMark, window), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
            }
        }
        finally
        {
            await Task.WhenAll(outcomes);
        }
    }

    private void OnOutcome(Task<DeliveryResult> send, string id, int partition, bool sentAfterMark, SemaphoreSlim window)
    {
        if (send.IsCompletedSuccessfully)
        {
            DeliveryResult result = send.Result;
            History.RecordAcknowledged(id, result.Topic, result.Partition, result.Offset, result.IsDuplicate);
            if (sentAfterMark)
            {
                _firstAckAfterMark.TryAdd(partition, Stopwatch.GetTimestamp());
            }

            if (Interlocked.Increment(ref _acknowledged) >= Interlocked.Read(ref _notifyAt))
            {
                _acknowledgedEnough.TrySetResult();
            }
        }
        else
        {
            Exception error = send.Exception?.GetBaseException() ?? new OperationCanceledException();
            bool possiblyPersisted = error is not ProduceException produce || produce.PossiblyPersisted;
            History.RecordFailed(id, $"{error.GetType().Name}: {error.Message}", possiblyPersisted);
            Interlocked.Increment(ref _failed);
        }

        window.Release();
    }
}
