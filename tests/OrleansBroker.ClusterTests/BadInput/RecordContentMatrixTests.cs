using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Protocol;
using Record = OrleansBroker.Protocol.Record;
using ProtocolHeader = OrleansBroker.Protocol.RecordHeader;

namespace OrleansBroker.ClusterTests.BadInput;

/// <summary>
/// Legal but unusual records: a null value (tombstone) is accepted and read back as null (not empty); a record with 10,000 headers is accepted
/// when under max.message.bytes and read back exactly; over the limit it is refused with MessageTooLarge and nothing is written. Over the grain
/// interface and over the SDK.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class RecordContentMatrixTests(BadInputFixture fixture)
{
    private const int HeaderCount = 10_000;

    [Fact]
    public async Task ProduceAsync_TombstoneAndEmptyValue_AcceptedAndReadBackAsNullAndEmpty()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory);
        long pid = probe.ProducerA.ProducerId;

        ProduceResult tombstone = await probe.Partition.ProduceAsync(BatchBytes.BuildOne(pid, 0, 1, "k"u8.ToArray(), value: null, headers: null));
        ProduceResult empty = await probe.Partition.ProduceAsync(BatchBytes.BuildOne(pid, 0, 2, "k"u8.ToArray(), value: [], headers: null));
        ProduceResult bothNull = await probe.Partition.ProduceAsync(BatchBytes.BuildOne(pid, 0, 3, key: null, value: null, headers: null));

        Assert.Equal((ErrorCode.None, 1L), (tombstone.Error, tombstone.BaseOffset));
        Assert.Equal((ErrorCode.None, 2L), (empty.Error, empty.BaseOffset));
        Assert.Equal((ErrorCode.None, 3L), (bothNull.Error, bothNull.BaseOffset));
        List<Record> records = BatchBytes.ReadAll((await probe.Partition.FetchAsync(1, 1 << 20)).Records);
        Assert.Equal([1L, 2L, 3L], records.Select(r => r.Offset));
        Assert.Null(records[0].Value);
        Assert.Equal("k"u8.ToArray(), records[0].Key!.Value.ToArray());
        Assert.NotNull(records[1].Value);
        Assert.Equal(0, records[1].Value!.Value.Length);
        Assert.Null(records[2].Key);
        Assert.Null(records[2].Value);
    }

    [Fact]
    public async Task Producer_Tombstone_AcknowledgedAndConsumedAsNull()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory);
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });

        DeliveryResult tombstone = await producer.ProduceAsync(new TopicPartition(probe.Topic, 0), new Message { Key = "k"u8.ToArray(), Value = null });
        DeliveryResult empty = await producer.ProduceAsync(new TopicPartition(probe.Topic, 0), new Message { Key = "k"u8.ToArray(), Value = [] });

        Assert.Equal(1, tombstone.Offset);
        Assert.Equal(2, empty.Offset);
        List<ConsumeResult> read = await ConsumeAsync(probe.Topic, 1, 2);
        Assert.Null(read[0].Value);
        Assert.Equal("k", read[0].GetKeyString());
        Assert.NotNull(read[1].Value);
        Assert.Empty(read[1].Value!);
    }

    [Fact]
    public async Task ProduceAsync_TenThousandHeadersUnderLimit_AcceptedAndReadBackExactly()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, TopicSettings.DefaultMaxMessageBytes);
        List<ProtocolHeader> headers = Headers(valueBytes: 8);
        byte[] batch = BatchBytes.BuildOne(probe.ProducerA.ProducerId, 0, 1, key: null, "many-headers"u8.ToArray(), headers);

        ProduceResult result = await probe.Partition.ProduceAsync(batch);

        Assert.True(batch.Length < TopicSettings.DefaultMaxMessageBytes, $"{batch.Length} bytes");
        Assert.Equal((ErrorCode.None, 1L), (result.Error, result.BaseOffset));
        Record record = Assert.Single(BatchBytes.ReadAll((await probe.Partition.FetchAsync(1, 4 << 20)).Records));
        AssertHeaders(headers, record.Headers.Select(h => (h.Key, h.Value)).ToList());
        Assert.Equal("many-headers", Encoding.UTF8.GetString(record.Value!.Value.Span));
    }

    [Fact]
    public async Task ProduceAsync_TenThousandHeadersOverLimit_ReturnsMessageTooLargeAndWritesNothing()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, TopicSettings.DefaultMaxMessageBytes);
        byte[] batch = BatchBytes.BuildOne(probe.ProducerA.ProducerId, 0, 1, key: null, "too-many"u8.ToArray(), Headers(valueBytes: 120));
        await probe.TakeBeforeAsync();

        ProduceResult result = await probe.Partition.ProduceAsync(batch);

        Assert.True(batch.Length > TopicSettings.DefaultMaxMessageBytes, $"{batch.Length} bytes");
        PartitionProbe.AssertRefused(result, ErrorCode.MessageTooLarge, $"The record batch is {batch.Length} bytes, larger than max.message.bytes {TopicSettings.DefaultMaxMessageBytes}");
        await probe.AssertUnchangedAndServingAsync();
    }

    [Fact]
    public async Task Producer_TenThousandHeadersUnderLimit_AcknowledgedAndConsumedExactly()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, TopicSettings.DefaultMaxMessageBytes);
        List<ProtocolHeader> headers = Headers(valueBytes: 8);
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });

        DeliveryResult delivered = await producer.ProduceAsync(
            new TopicPartition(probe.Topic, 0),
            new Message { Value = "many"u8.ToArray(), Headers = headers });

        Assert.Equal(1, delivered.Offset);
        ConsumeResult read = Assert.Single(await ConsumeAsync(probe.Topic, 1, 1));
        AssertHeaders(headers, read.Headers.Select(h => (h.Key, h.Value)).ToList());
    }

    [Fact]
    public async Task Producer_RecordOverLimit_ThrowsMessageTooLargeNotRetriableAndWritesNothing()
    {
        PartitionProbe probe = await PartitionProbe.CreateAsync(fixture.GrainFactory, TopicSettings.DefaultMaxMessageBytes);
        await probe.TakeBeforeAsync();
        await using Producer producer = fixture.Broker.CreateProducer(new ProducerOptions { LingerMs = 0 });
        var byHeaders = new Message { Value = "h"u8.ToArray(), Headers = [.. Headers(valueBytes: 120)] };
        var byValue = new Message { Value = new byte[TopicSettings.DefaultMaxMessageBytes] };

        ProduceException headersEx = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(new TopicPartition(probe.Topic, 0), byHeaders));
        ProduceException valueEx = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(new TopicPartition(probe.Topic, 0), byValue));

        foreach (ProduceException ex in new[] { headersEx, valueEx })
        {
            Assert.Equal(ErrorCode.MessageTooLarge, ex.ErrorCode);
            Assert.False(ex.IsRetriable);
            Assert.False(ex.IsFatal);
            Assert.False(ex.PossiblyPersisted);
            Assert.Contains("max.message.bytes", ex.Message, StringComparison.Ordinal);
        }

        // The producer is not poisoned: its next record is written.
        DeliveryResult next = await producer.ProduceAsync(new TopicPartition(probe.Topic, 0), Message.FromString("after"));
        Assert.Equal(1, next.Offset);
        Assert.Equal(new PartitionOffsets(ErrorCode.None, 0, 2, 2), await probe.Partition.ListOffsetsAsync());
    }

    private static List<ProtocolHeader> Headers(int valueBytes)
    {
        var headers = new List<ProtocolHeader>(HeaderCount);
        for (int i = 0; i < HeaderCount; i++)
        {
            byte[]? value = i % 97 == 0 ? null : Encoding.ASCII.GetBytes(i.ToString("D" + valueBytes, System.Globalization.CultureInfo.InvariantCulture));
            headers.Add(new ProtocolHeader(i % 13 == 0 ? "dup" : "h" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), value));
        }

        return headers;
    }

    private static void AssertHeaders(List<ProtocolHeader> expected, List<(string Key, byte[]? Value)> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Key, actual[i].Key);
            Assert.Equal(expected[i].Value, actual[i].Value);
        }
    }

    private async Task<List<ConsumeResult>> ConsumeAsync(string topic, long from, int count)
    {
        await using Consumer consumer = fixture.Broker.CreateConsumer();
        consumer.Assign(new TopicPartitionOffset(topic, 0, from));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = new List<ConsumeResult>();
        await foreach (ConsumeResult r in consumer.ConsumeAsync(timeout.Token))
        {
            read.Add(r);
            if (read.Count == count)
            {
                break;
            }
        }

        return read;
    }
}
