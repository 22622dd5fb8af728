using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Client;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>The consumer's positions, decoding and errors against <see cref="FakeBroker"/>.</summary>
public sealed class ConsumerTests : IAsyncLifetime
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);

    private readonly FakeBroker _broker = new();
    private readonly ProducerCleanup _producers = new();
    private readonly FakeTimeProvider _time = new();

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public Task DisposeAsync() => _producers.CloseAllAsync();

    /// <summary>Writes batches of the given sizes (one value per record: "v{offset}") to partition 0 of "t".</summary>
    private async Task SeedAsync(params int[] batchSizes)
    {
        _broker.AddTopic("t", 2);
        Producer producer = _producers.Track(new Producer(_broker, new ProducerOptions { LingerMs = 60_000, SendWhenIdle = false, DeliveryTimeout = TimeSpan.FromMinutes(5), TimeProvider = _time }));
        int offset = 0;
        foreach (int size in batchSizes)
        {
            for (int i = 0; i < size; i++)
            {
                producer.Produce(new TopicPartition("t", 0), Message.FromStrings($"k{offset}", $"v{offset}"));
                offset++;
            }

            await producer.FlushAsync().WaitAsync(Guard);
        }
    }

    private Consumer Create(ConsumerOptions? options = null) =>
        new(_broker, (options ?? new ConsumerOptions()) with { TimeProvider = _time, EnablePartitionEof = true });

    private static async Task<List<ConsumeResult>> ReadUntilEofAsync(Consumer consumer, int eofs = 1)
    {
        var results = new List<ConsumeResult>();
        int seen = 0;
        await foreach (ConsumeResult r in consumer.ConsumeAsync().WithCancellation(CancellationToken.None))
        {
            if (r.IsPartitionEof)
            {
                if (++seen == eofs)
                {
                    break;
                }

                continue;
            }

            results.Add(r);
        }

        return results;
    }

    [Fact]
    public async Task ConsumeAsync_FromBeginning_ReturnsEveryRecordInOffsetOrder()
    {
        await SeedAsync(3, 4, 2);
        await using Consumer consumer = Create();
        consumer.Assign(new TopicPartitionOffset("t", 0, Offset.Beginning));

        List<ConsumeResult> records = await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => $"v{i}"), records.Select(r => r.GetValueString()));
        Assert.Equal("k4", records[4].GetKeyString());
        Assert.Equal(9, consumer.Position(new TopicPartition("t", 0)).Value);
    }

    [Fact]
    public async Task ConsumeAsync_StartInsideBatch_SkipsRecordsBelowPosition()
    {
        await SeedAsync(5, 5);
        await using Consumer consumer = Create(new ConsumerOptions { MaxPartitionFetchBytes = 1 });
        consumer.Assign(new TopicPartitionOffset("t", 0, 3));

        List<ConsumeResult> records = await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        Assert.Equal(Enumerable.Range(3, 7).Select(i => (long)i), records.Select(r => r.Offset));
    }

    [Fact]
    public async Task ConsumeAsync_FromEnd_ReturnsNothingAndPositionIsHighWatermark()
    {
        await SeedAsync(4);
        await using Consumer consumer = Create();
        var tp = new TopicPartition("t", 0);
        consumer.Assign(new TopicPartitionOffset(tp, Offset.End));
        Assert.Equal(Offset.End, consumer.Position(tp));

        List<ConsumeResult> records = await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        Assert.Empty(records);
        Assert.Equal(4, consumer.Position(tp).Value);
    }

    [Fact]
    public async Task ConsumeAsync_StoppedInsideABatch_PositionAtNextRecordAndNextEnumerationResumesThere()
    {
        await SeedAsync(5, 3);
        await using Consumer consumer = Create();
        var tp = new TopicPartition("t", 0);
        consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
        var first = new List<long>();
        var positions = new List<long>();

        await foreach (ConsumeResult r in consumer.ConsumeAsync().WithCancellation(CancellationToken.None))
        {
            first.Add(r.Offset);
            positions.Add(consumer.Position(tp).Value);
            if (first.Count == 3)
            {
                break;
            }
        }

        Assert.Equal([0L, 1L, 2L], first);
        Assert.Equal([1L, 2L, 3L], positions);
        Assert.Equal(3, consumer.Position(tp).Value);
        List<ConsumeResult> rest = await ReadUntilEofAsync(consumer).WaitAsync(Guard);
        Assert.Equal([3L, 4L, 5L, 6L, 7L], rest.Select(r => r.Offset));
        Assert.Equal(8, consumer.Position(tp).Value);
    }

    [Fact]
    public async Task Seek_BackToZero_RecordsReturnedAgain()
    {
        await SeedAsync(3);
        await using Consumer consumer = Create();
        var tp = new TopicPartition("t", 0);
        consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
        await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        consumer.Seek(new TopicPartitionOffset(tp, 1));
        List<ConsumeResult> again = await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        Assert.Equal([1L, 2L], again.Select(r => r.Offset));
    }

    [Fact]
    public async Task ConsumeAsync_OffsetPastEnd_ThrowsOffsetOutOfRange()
    {
        await SeedAsync(2);
        await using Consumer consumer = Create();
        consumer.Assign(new TopicPartitionOffset("t", 0, 50));

        ConsumeException error = await Assert.ThrowsAsync<ConsumeException>(() => ReadUntilEofAsync(consumer).WaitAsync(Guard));

        Assert.Equal(ErrorCode.OffsetOutOfRange, error.ErrorCode);
        Assert.Equal(new TopicPartition("t", 0), error.TopicPartition);
        Assert.Contains("holds offsets 0 to 1 (log start offset 0, high watermark 2)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConsumeAsync_OffsetPastEndWithEarliestReset_ReadsFromLogStart()
    {
        await SeedAsync(2);
        await using Consumer consumer = Create(new ConsumerOptions { AutoOffsetReset = AutoOffsetReset.Earliest });
        consumer.Assign(new TopicPartitionOffset("t", 0, 50));

        List<ConsumeResult> records = await ReadUntilEofAsync(consumer).WaitAsync(Guard);

        Assert.Equal([0L, 1L], records.Select(r => r.Offset));
    }

    [Fact]
    public async Task ConsumeAsync_TransientFetchFailuresBeyondRetryTimeout_ThrowsRequestTimedOut()
    {
        await SeedAsync(1);
        _broker.OnFetch = (_, _, _, _) =>
        {
            _time.Advance(TimeSpan.FromSeconds(31));
            return Task.FromException<OrleansBroker.FetchResult>(new Orleans.Runtime.Messaging.ConnectionFailedException("down"));
        };
        await using Consumer consumer = Create(new ConsumerOptions { FetchRetryTimeout = TimeSpan.FromSeconds(30), FetchWaitMaxMs = 0, RetryBackoff = TimeSpan.Zero });
        consumer.Assign(new TopicPartitionOffset("t", 0, 0));

        ConsumeException error = await Assert.ThrowsAsync<ConsumeException>(() => ReadUntilEofAsync(consumer).WaitAsync(Guard));

        Assert.Equal(ErrorCode.RequestTimedOut, error.ErrorCode);
        Assert.True(error.IsRetriable);
    }

    [Fact]
    public async Task Position_UnassignedPartition_IsUnset()
    {
        await using Consumer consumer = Create();

        Assert.Equal(Offset.Unset, consumer.Position(new TopicPartition("t", 0)));
        Assert.Throws<InvalidOperationException>(() => consumer.Seek(new TopicPartitionOffset("t", 0, 0)));
    }
    // Regression (adversarial run): a byte flipped at rest was handed to the application, because nothing checked the CRC on
    // the way out (Kafka's consumer checks it by default, check.crcs).
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConsumeAsync_FetchedBatchCorrupted_ThrowsCorruptMessageUnlessCrcChecksAreOff(bool checkCrcs)
    {
        await SeedAsync(3);
        FetchResult clean = await _broker.FetchAsync("t", 0, 0, 1 << 20);
        byte[] corrupt = [.. clean.Records];
        corrupt[^2] ^= 0x01; // the last byte of the last record's value ("v2" becomes "v3"); the final byte is the header count
        _broker.OnFetch = (_, _, offset, _) => Task.FromResult(offset == 0 ? clean with { Records = corrupt } : clean with { Records = [] });
        await using Consumer consumer = Create(new ConsumerOptions { CheckCrcs = checkCrcs });
        consumer.Assign(new TopicPartitionOffset("t", 0, Offset.Beginning));

        if (checkCrcs)
        {
            ConsumeException error = await Assert.ThrowsAsync<ConsumeException>(() => ReadUntilEofAsync(consumer).WaitAsync(Guard));
            Assert.Equal(ErrorCode.CorruptMessage, error.ErrorCode);
            Assert.Contains("CRC-32C", error.Message, StringComparison.Ordinal);
        }
        else
        {
            List<ConsumeResult> records = await ReadUntilEofAsync(consumer).WaitAsync(Guard);
            Assert.Equal(["k0", "k1", "k2"], records.Select(r => System.Text.Encoding.UTF8.GetString(r.Key!)));
            Assert.Equal("v3", System.Text.Encoding.UTF8.GetString(records[2].Value!));
        }
    }

    // Regression (adversarial run): a base offset damaged at rest (outside the CRC) surfaced as OffsetOutOfRange at a nonsense offset.
    [Fact]
    public async Task ConsumeAsync_BatchBaseOffsetDamaged_ThrowsCorruptMessageNamingTheOffsets()
    {
        await SeedAsync(2, 2);
        FetchResult clean = await _broker.FetchAsync("t", 0, 0, 1 << 20);
        byte[] damaged = [.. clean.Records];
        int second = (int)(RecordBatchHeaderSize(damaged));
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(damaged.AsSpan(second), 6_124_895_493_223_874_833);
        _broker.OnFetch = (_, _, _, _) => Task.FromResult(clean with { Records = damaged });
        await using Consumer consumer = Create();
        consumer.Assign(new TopicPartitionOffset("t", 0, Offset.Beginning));

        ConsumeException error = await Assert.ThrowsAsync<ConsumeException>(() => ReadUntilEofAsync(consumer).WaitAsync(Guard));

        Assert.Equal(ErrorCode.CorruptMessage, error.ErrorCode);
        Assert.Contains("6124895493223874833", error.Message, StringComparison.Ordinal);
    }

    private static int RecordBatchHeaderSize(byte[] batches)
    {
        OrleansBroker.Protocol.RecordBatchHeader.TryRead(batches, out OrleansBroker.Protocol.RecordBatchHeader first);
        return first.TotalSize;
    }
}
