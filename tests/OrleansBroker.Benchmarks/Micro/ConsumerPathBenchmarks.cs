using BenchmarkDotNet.Attributes;
using OrleansBroker.Client;
using OrleansBroker.Client.Internal;
using OrleansBroker.Protocol;

namespace OrleansBroker.Benchmarks.Micro;

/// <summary>
/// The SDK's per-record cost of consuming, without a network: <see cref="Consumer.ConsumeAsync"/> of 100,000 records of 100 B from
/// 4 partitions, against an in-memory transport that answers every fetch with up to 1 MiB of stored batches (1000 records each).
/// Fetch handling, batch and record decoding, <see cref="ConsumeResult"/> creation, the async enumerator; reported per record.
/// </summary>
[MemoryDiagnoser]
public class ConsumerPathBenchmarks
{
    private const int Records = 100_000;
    private const int Partitions = 4;
    private const int RecordsPerBatch = 1000;
    private Consumer _consumer = null!;
    private TopicPartitionOffset[] _start = [];

    [GlobalSetup]
    public void Setup()
    {
        var transport = new StoredTransport(Partitions, Records / Partitions / RecordsPerBatch);
        _consumer = new Consumer(transport, new ConsumerOptions());
        _start = [.. Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset("bench", p, 0))];
    }

    [GlobalCleanup]
    public void Cleanup() => _consumer.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Records)]
    public async Task<long> ConsumeAll()
    {
        _consumer.Assign(_start);
        long count = 0;
        long bytes = 0;
        await foreach (ConsumeResult r in _consumer.ConsumeAsync())
        {
            bytes += r.Value!.Length;
            if (++count == Records)
            {
                break;
            }
        }

        return bytes;
    }

    /// <summary>Every partition holds the same batches; a fetch returns whole batches from the offset, up to maxBytes.</summary>
    private sealed class StoredTransport : IBrokerTransport
    {
        private readonly byte[] _log;
        private readonly int[] _batchStarts;
        private readonly long _endOffset;
        private readonly int _partitions;

        public StoredTransport(int partitions, int batches)
        {
            _partitions = partitions;
            var log = new List<byte>();
            _batchStarts = new int[batches + 1];
            for (int b = 0; b < batches; b++)
            {
                _batchStarts[b] = log.Count;
                byte[] batch = Batches.Build(RecordsPerBatch, 100, producerId: 1, baseSequence: b * RecordsPerBatch);
                RecordBatch.SetBaseOffset(batch, (long)b * RecordsPerBatch);
                log.AddRange(batch);
            }

            _batchStarts[batches] = log.Count;
            _log = [.. log];
            _endOffset = (long)batches * RecordsPerBatch;
        }

        public CancellationToken ConnectionLost => CancellationToken.None;

        public Task<FetchResult> FetchAsync(string topic, int partition, long offset, int maxBytes)
        {
            if (offset >= _endOffset)
            {
                return Task.FromResult(new FetchResult(ErrorCode.None, _endOffset, 0, []));
            }

            int first = (int)(offset / RecordsPerBatch);
            int last = first + 1;
            while (last < _batchStarts.Length - 1 && _batchStarts[last + 1] - _batchStarts[first] <= maxBytes)
            {
                last++;
            }

            return Task.FromResult(new FetchResult(ErrorCode.None, _endOffset, 0, _log[_batchStarts[first].._batchStarts[last]]));
        }

        public Task<PartitionOffsets> ListOffsetsAsync(string topic, int partition) =>
            Task.FromResult(new PartitionOffsets(ErrorCode.None, 0, _endOffset, _endOffset));

        public Task<ProduceResult> ProduceAsync(string topic, int partition, ReadOnlyMemory<byte> batch) => throw new NotSupportedException();

        public Task<TopicResult> CreateTopicAsync(string name, int partitionCount, TopicSettings? settings) => throw new NotSupportedException();

        public Task<TopicResult> DescribeTopicAsync(string name) =>
            Task.FromResult(new TopicResult(ErrorCode.None, null, new TopicDescription(name, _partitions, new TopicSettings())));

        public Task<TopicResult> GetTopicMetadataAsync(string name, bool allowAutoTopicCreation) => DescribeTopicAsync(name);

        public Task<IReadOnlyList<TopicDescription>> ListTopicsAsync() => throw new NotSupportedException();

        public Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request) => throw new NotSupportedException();
    }
}
