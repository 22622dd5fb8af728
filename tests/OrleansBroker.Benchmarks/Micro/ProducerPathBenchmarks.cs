using BenchmarkDotNet.Attributes;
using OrleansBroker.Client;
using OrleansBroker.Client.Internal;

namespace OrleansBroker.Benchmarks.Micro;

/// <summary>
/// The SDK's per-record cost without a network: <see cref="Producer.Produce(TopicPartition, Message, Action{DeliveryReport})"/> of
/// 100,000 records of 100 B round-robin over 4 partitions, then <see cref="Producer.FlushAsync"/>, against an in-memory transport that
/// acknowledges every batch at once. Routing, batch encoding, sealing, the in-flight window, the dispatcher and the delivery handler;
/// reported per record.
/// </summary>
[MemoryDiagnoser]
public class ProducerPathBenchmarks
{
    private const int Records = 100_000;
    private const int Partitions = 4;
    private readonly Message _message = new() { Value = new byte[100] };
    private readonly TopicPartition[] _targets = [.. Enumerable.Range(0, Partitions).Select(p => new TopicPartition("bench", p))];
    private readonly Action<DeliveryReport> _handler = static _ => { };
    private Producer _producer = null!;

    /// <summary>EnableIdempotence.</summary>
    [Params(true, false)]
    public bool Idempotence { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // SendWhenIdle off: this transport acknowledges inside the call, so every partition would always be idle and every record
        // would go as a batch of its own; with it off, records form batches (by batch.size or flush) as they do under load.
        _producer = new Producer(new InstantTransport(Partitions), new ProducerOptions { EnableIdempotence = Idempotence, SendWhenIdle = false });

        // Topic metadata and producer id.
        RunOnce().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _producer.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Records)]
    public Task ProduceAndFlush() => RunOnce();

    private Task RunOnce()
    {
        Producer producer = _producer;
        int partition = 0;
        for (int i = 0; i < Records; i++)
        {
            producer.Produce(_targets[partition], _message, _handler);
            partition = partition + 1 == Partitions ? 0 : partition + 1;
        }

        return producer.FlushAsync();
    }

    /// <summary>Acknowledges every batch immediately, with contiguous offsets per partition.</summary>
    private sealed class InstantTransport(int partitions) : IBrokerTransport
    {
        private readonly long[] _next = new long[partitions];

        public CancellationToken ConnectionLost => CancellationToken.None;

        public Task<ProduceResult> ProduceAsync(string topic, int partition, ReadOnlyMemory<byte> batch)
        {
            int records = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(batch.Span[57..]);
            long baseOffset = Interlocked.Add(ref _next[partition], records) - records;
            return Task.FromResult(new ProduceResult(ErrorCode.None, baseOffset, -1, 0, false, -1, -1, null));
        }

        public Task<TopicResult> DescribeTopicAsync(string name) =>
            Task.FromResult(new TopicResult(ErrorCode.None, null, new TopicDescription(name, partitions, new TopicSettings())));

        public Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation) => DescribeTopicAsync(name);

        public Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request) =>
            Task.FromResult(new InitProducerIdResult(ErrorCode.None, 1, 0));

        public Task<FetchResult> FetchAsync(string topic, int partition, long offset, int maxBytes) => throw new NotSupportedException();

        public Task<PartitionOffsets> ListOffsetsAsync(string topic, int partition) => throw new NotSupportedException();

        public Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings) => throw new NotSupportedException();

        public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync() => throw new NotSupportedException();
    }
}
