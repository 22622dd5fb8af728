using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Client;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>
/// Per-partition order when grain calls are delivered out of order (Orleans keeps no message order): calls of one partition
/// are issued in sequence order, and while the partition may hold no state for the producer id and epoch (first batch there,
/// first after an epoch bump, first after an idle period), only one batch is in flight, because such a partition accepts any
/// sequence (SEMANTICS.md rule 7, KIP-360) and would store an overtaking batch first.
/// </summary>
public sealed class ProducerOrderingTests : IAsyncLifetime
{
    private const int BatchesPerBurst = 5;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private static readonly TopicPartition P0 = new("t", 0);
    private static readonly TopicPartition P1 = new("t", 1);

    private readonly FakeBroker _broker = new();
    private readonly ProducerCleanup _producers = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public Task DisposeAsync() => _producers.CloseAllAsync();

    /// <summary>Options where each <see cref="Big"/> record fills a batch of its own, closed as soon as it is added.</summary>
    private static ProducerOptions OneRecordPerBatch => new() { LingerMs = 0, BatchSize = 1024 };

    private Producer Create(ProducerOptions options, int partitions = 2)
    {
        _broker.AddTopic("t", partitions);
        return _producers.Track(new Producer(_broker, options with { TimeProvider = _time, RetryBackoff = TimeSpan.Zero }, null, new Random(7)));
    }

    /// <summary>A record larger than the 1024-byte batch size, so it is a batch by itself; its value starts with <paramref name="name"/>.</summary>
    private static Message Big(string name) => Message.FromStrings(null, name + "|" + new string('.', 1100));

    private static List<string> Names(FakePartition partition) => [.. partition.Values.Select(v => v[..v.IndexOf('|', StringComparison.Ordinal)])];

    private static List<Task<DeliveryResult>> ProduceBurst(Producer producer, TopicPartition tp, string prefix, int first, int count) =>
        [.. Enumerable.Range(first, count).Select(i => producer.ProduceAsync(tp, Big($"{prefix}{i}")))];

    /// <summary>
    /// Delivers a burst of <see cref="BatchesPerBurst"/> batches with the oldest waiting call delivered last, in rounds: whatever
    /// the producer sent at once, then (after the first acknowledgement) the rest. Returns how many calls the first round held.
    /// </summary>
    private static async Task<int> DeliverOldestLastAsync(HeldDeliveries held)
    {
        // The producer's sends may be issued by another thread (the one still issuing the partition's previous send): wait for the
        // first to arrive rather than read a count that may still be growing.
        await held.WaitForArrivedAsync(1, Guard);
        int firstRound = held.Waiting;
        held.ReleaseOldestLast();
        await held.WaitForArrivedAsync(BatchesPerBurst, Guard);
        held.ReleaseOldestLast();
        return firstRound;
    }

    [Fact]
    public async Task Produce_FirstBatchesToPartitionOldestDeliveredLast_StoredInSendOrderWithoutEpochBump()
    {
        // The E2E failure: the partition has no state for the producer id, so an overtaking batch was stored first (rule 7).
        Producer producer = Create(OneRecordPerBatch);
        await producer.ProduceAsync(P1, Big("w")).WaitAsync(Guard); // producer id and metadata ready; P0 has never seen the producer id
        HeldDeliveries held = _broker.HoldProduceCalls(BatchesPerBurst);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 0, BatchesPerBurst);
        int firstRound = await DeliverOldestLastAsync(held);
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], Names(_broker.Partition("t", 0)));
        Assert.Equal([0L, 1L, 2L, 3L, 4L], delivered.Select(d => d.Offset));
        Assert.Equal([(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)], _broker.Partition("t", 0).Batches.Select(h => ((int)h.ProducerEpoch, h.BaseSequence)));
        Assert.Equal((1000L, (short)0), (producer.ProducerId, producer.ProducerEpoch));
        Assert.Single(_broker.RegistryCalls);
        Assert.Equal(1, firstRound); // the first batch went alone
    }

    [Fact]
    public async Task Produce_AfterEpochBumpToNewProducerIdOldestDeliveredLast_StoredInSendOrderWithoutSecondBump()
    {
        // An exhausted epoch gets a new producer id: P1, confirmed for the old id, has no state for the new one.
        Producer producer = Create(OneRecordPerBatch with
        {
            DeliveryTimeout = TimeSpan.FromSeconds(40),
            RequestTimeout = TimeSpan.FromSeconds(30),
            ProducerStateIdleThreshold = TimeSpan.FromHours(1),
        });
        _broker.NewProducerIdOnBump = true;
        await producer.ProduceAsync(P1, Big("b0")).WaitAsync(Guard);
        await producer.ProduceAsync(P0, Big("a0")).WaitAsync(Guard);
        _broker.Script.Enqueue(_ =>
        {
            _time.Advance(TimeSpan.FromSeconds(41));
            return Task.FromResult(ProduceResult.Failed(ErrorCode.NotLeaderOrFollower, "moving"));
        });
        await Assert.ThrowsAsync<DeliveryTimeoutException>(() => producer.ProduceAsync(P0, Big("a1")).WaitAsync(Guard));
        await producer.ProduceAsync(P0, Big("a2")).WaitAsync(Guard); // out of order on the oldest batch: epoch bump
        Assert.Equal((1001L, (short)0), (producer.ProducerId, producer.ProducerEpoch));
        HeldDeliveries held = _broker.HoldProduceCalls(BatchesPerBurst);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P1, "b", 1, BatchesPerBurst);
        int firstRound = await DeliverOldestLastAsync(held);
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal(["b0", "b1", "b2", "b3", "b4", "b5"], Names(_broker.Partition("t", 1)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], delivered.Select(d => d.Offset));
        Assert.Equal([(1001L, 0), (1001L, 1), (1001L, 2), (1001L, 3), (1001L, 4)], _broker.Partition("t", 1).Batches.Skip(1).Select(h => (h.ProducerId, h.BaseSequence)));
        Assert.Equal((1001L, (short)0), (producer.ProducerId, producer.ProducerEpoch));
        Assert.Equal(2, _broker.RegistryCalls.Count);
        Assert.Equal(1, firstRound);
    }

    [Fact]
    public async Task Produce_AfterIdlePeriodBrokerExpiredProducerOldestDeliveredLast_StoredInSendOrderWithoutEpochBump()
    {
        TimeSpan threshold = ProducerOptions.DefaultProducerStateIdleThreshold;
        Producer producer = Create(OneRecordPerBatch with { ProducerStateIdleThreshold = threshold });
        await producer.ProduceAsync(P0, Big("r0")).WaitAsync(Guard);
        _time.Advance(threshold);
        Assert.Equal(1, _broker.Partition("t", 0).ExpireProducers()); // a broker whose ProducerIdExpiration is this short forgot the producer
        HeldDeliveries held = _broker.HoldProduceCalls(BatchesPerBurst);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 1, BatchesPerBurst);
        int firstRound = await DeliverOldestLastAsync(held);
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], Names(_broker.Partition("t", 0)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], delivered.Select(d => d.Offset));
        Assert.All(_broker.Partition("t", 0).Batches, h => Assert.Equal(0, h.ProducerEpoch));
        Assert.Equal(0, producer.ProducerEpoch);
        Assert.Single(_broker.RegistryCalls);
        Assert.Equal(1, firstRound);
    }

    [Fact]
    public async Task Produce_IdleShorterThanThreshold_FullWindowSentAtOnceAndOrderKept()
    {
        // The rule costs nothing while the partition is known to hold the producer's state: all five go at once.
        TimeSpan threshold = TimeSpan.FromMinutes(1);
        Producer producer = Create(OneRecordPerBatch with { ProducerStateIdleThreshold = threshold });
        await producer.ProduceAsync(P0, Big("r0")).WaitAsync(Guard);
        _time.Advance(threshold - TimeSpan.FromMilliseconds(1));
        HeldDeliveries held = _broker.HoldProduceCalls(BatchesPerBurst);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 1, BatchesPerBurst);
        await held.WaitForArrivedAsync(BatchesPerBurst, Guard); // all five are sent before any is answered
        int firstRound = held.Waiting;
        held.ReleaseOldestLast(); // r2..r5 are out of order (the partition expects r1) and are resent after it
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal(BatchesPerBurst, firstRound);
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], Names(_broker.Partition("t", 0)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], delivered.Select(d => d.Offset));
        Assert.Equal(0, producer.ProducerEpoch);
        Assert.Single(_broker.RegistryCalls);
    }

    [Fact]
    public async Task Produce_OvertakenBatchesRefused_ResentTogetherInOrderOnceTheOlderOneIsAcknowledged()
    {
        // r2..r5 reach the partition before r1 and are refused unwritten; once r1 is acknowledged they go again at once, in
        // sequence order (pipelined, as first sent), not one round trip after another.
        TimeSpan threshold = TimeSpan.FromMinutes(1);
        Producer producer = Create(OneRecordPerBatch with { ProducerStateIdleThreshold = threshold });
        await producer.ProduceAsync(P0, Big("r0")).WaitAsync(Guard);
        HeldDeliveries held = _broker.HoldProduceCalls(2 * BatchesPerBurst - 1);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 1, BatchesPerBurst);
        await held.WaitForArrivedAsync(BatchesPerBurst, Guard); // released before all five arrived, r5 would go with the resends
        held.ReleaseOldestLast();
        await held.WaitForArrivedAsync(2 * BatchesPerBurst - 1, Guard);
        int resentTogether = held.Waiting;
        IReadOnlyList<ProduceCall> resends = held.Release([0, 1, 2, 3]);
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal(BatchesPerBurst - 1, resentTogether);
        Assert.Equal([2, 3, 4, 5], resends.Select(c => c.Header.BaseSequence));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], Names(_broker.Partition("t", 0)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], delivered.Select(d => d.Offset));
        Assert.Equal(0, producer.ProducerEpoch);
    }

    [Fact]
    public async Task Produce_OvertakenRefusalsHandledInMixedOrder_ResentInSequenceOrderWithoutWaitingForTheFirstResends()
    {
        // Regression (caught by the full suite under load): the answers to a burst complete on the thread pool in any order. Handled
        // as r1 (acknowledged), r3, r5, r2, r4 (refused, overtaken), the producer resent r2, r3 and r5 when r2's refusal came (r4's
        // first send still unanswered), so r5 went before r4 and r4 then waited for r2's resend to be answered.
        Producer producer = Create(OneRecordPerBatch);
        await producer.ProduceAsync(P0, Big("r0")).WaitAsync(Guard);
        HeldDeliveries held = _broker.HoldProduceCalls(2 * BatchesPerBurst - 1, answerInline: true);
        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 1, BatchesPerBurst);
        await held.WaitForArrivedAsync(BatchesPerBurst, Guard);

        // The partition sees r2..r5 before r1; the producer gets the answers as r1, r3, r5, r2, r4.
        held.Release(applyOrder: [1, 2, 3, 4, 0], answerOrder: [0, 2, 4, 1, 3]);
        await held.WaitForArrivedAsync(2 * BatchesPerBurst - 1, Guard);
        IReadOnlyList<ProduceCall> resends = held.Release([0, 1, 2, 3]);
        DeliveryResult[] delivered = await Task.WhenAll(sends).WaitAsync(Guard);

        Assert.Equal([2, 3, 4, 5], resends.Select(c => c.Header.BaseSequence));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], Names(_broker.Partition("t", 0)));
        Assert.Equal([1L, 2L, 3L, 4L, 5L], delivered.Select(d => d.Offset));
        Assert.Equal(0, producer.ProducerEpoch);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Produce_EveryDeliveryInSeededRandomOrder_StoredInSendOrderWithoutEpochBump(int seed)
    {
        const int Batches = 20;
        Producer producer = Create(OneRecordPerBatch);
        await producer.ProduceAsync(P1, Big("w")).WaitAsync(Guard);
        HeldDeliveries held = _broker.HoldProduceCalls(int.MaxValue);
        var random = new Random(seed);

        List<Task<DeliveryResult>> sends = ProduceBurst(producer, P0, "r", 0, Batches);
        Task<DeliveryResult[]> all = Task.WhenAll(sends);
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, held.WaitForWaitingAsync()).WaitAsync(Guard);
            held.ReleaseShuffled(random);
        }

        DeliveryResult[] delivered = await all;
        Assert.Equal(Enumerable.Range(0, Batches).Select(i => $"r{i}"), Names(_broker.Partition("t", 0)));
        Assert.Equal(Enumerable.Range(0, Batches).Select(i => (long)i), delivered.Select(d => d.Offset));
        Assert.Equal(0, producer.ProducerEpoch);
        Assert.Single(_broker.RegistryCalls);
    }

    [Fact]
    public async Task Produce_ManyThreadsOnOnePartition_GrainCallsIssuedInSequenceOrder()
    {
        const int Threads = 8;
        const int PerThread = 400;
        Producer producer = Create(new ProducerOptions { LingerMs = 0 }, partitions: 1);
        await producer.ProduceAsync(P0, Message.FromStrings(null, "w")).WaitAsync(Guard);
        using var start = new Barrier(Threads);

        Task[] writers = [.. Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            start.SignalAndWait(Guard);
            for (int i = 0; i < PerThread; i++)
            {
                producer.Produce(P0, Message.FromStrings(null, $"{t}-{i}"));
            }
        }))];
        await Task.WhenAll(writers).WaitAsync(Guard);
        await producer.FlushAsync().WaitAsync(Guard);

        // The first send of each batch, in the order the calls reached the transport, must be in sequence order.
        var firstSends = new List<int>();
        var seen = new HashSet<(short, int)>();
        foreach (ProduceCall call in _broker.ProduceCalls)
        {
            RecordBatchHeader h = call.Header;
            if (seen.Add((h.ProducerEpoch, h.BaseSequence)))
            {
                firstSends.Add(h.BaseSequence);
            }
        }

        Assert.Equal(firstSends.Order(), firstSends);
        Assert.Equal(1 + (Threads * PerThread), _broker.Partition("t", 0).Values.Count);
        Assert.Equal(0, producer.ProducerEpoch);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Validate_ProducerStateIdleThresholdNotPositive_ThrowsNamingTheSetting(int seconds)
    {
        var options = new ProducerOptions { ProducerStateIdleThreshold = TimeSpan.FromSeconds(seconds) };

        ArgumentException error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("ProducerStateIdleThreshold must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_ProducerStateIdleThreshold_IsOneMinute()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), ProducerOptions.Default.ProducerStateIdleThreshold);
        Assert.Equal(ProducerOptions.DefaultProducerStateIdleThreshold, ProducerOptions.Default.ProducerStateIdleThreshold);
    }
}
