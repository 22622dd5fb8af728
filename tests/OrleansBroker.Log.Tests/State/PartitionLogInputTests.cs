using System.Buffers.Binary;
using OrleansBroker.Log.Tests.TestDoubles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.State;

/// <summary>Bad input gets a typed status, nothing is written, and the partition keeps serving.</summary>
public sealed class PartitionLogInputTests
{
    private const long Pid = 3;
    private readonly LogHarness _harness = new();

    private static async Task<LogAppendResult> AppendAsync(PartitionLog log, byte[] batch) => await log.AppendAsync(batch.ToArray());

    private static void AssertRefused(LogAppendResult result, AppendStatus status)
    {
        Assert.Equal(status, result.Status);
        Assert.Equal(-1, result.BaseOffset);
        Assert.Equal(-1, result.Timestamp);
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        Assert.DoesNotContain('\n', result.Message);
    }

    [Fact]
    public async Task AppendAsync_CrcFlipped_CorruptMessageNothingWrittenOthersServed()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        await AppendAsync(log, TestBatches.Create(Pid, 0, 0, tag: "good"));
        byte[] corrupt = TestBatches.Create(Pid, 0, 1, records: 2, tag: "bad");
        corrupt[^2] ^= 0x40;

        LogAppendResult result = await AppendAsync(log, corrupt);
        LogAppendResult sameProducerNext = await AppendAsync(log, TestBatches.Create(Pid, 0, 1, tag: "resent"));
        LogAppendResult otherProducer = await AppendAsync(log, TestBatches.Create(Pid + 1, 0, 0, tag: "other"));

        AssertRefused(result, AppendStatus.CorruptMessage);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 1, TestBatches.BaseTime), sameProducerNext);
        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 2, TestBatches.BaseTime), otherProducer);
        Assert.Equal(["good-0", "resent-0", "other-0"], await LogHarness.ReadValuesAsync(log));
    }

    [Fact]
    public async Task AppendAsync_RecordsSectionCorruptWithValidCrc_CorruptMessage()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0, records: 2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), 2);
        TestBatches.RecomputeCrc(batch);

        AssertRefused(await AppendAsync(log, batch), AppendStatus.CorruptMessage);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_TruncatedInTransit_CorruptMessage()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0, records: 2);

        AssertRefused(await AppendAsync(log, batch[..^1]), AppendStatus.CorruptMessage);
        AssertRefused(await AppendAsync(log, batch[..40]), AppendStatus.CorruptMessage);
        Assert.Equal(0, log.LogEndOffset);
        Assert.Equal(0, _harness.Disk.LogLength);
    }

    [Fact]
    public async Task AppendAsync_LargerThanMaxMessageBytes_MessageTooLarge()
    {
        byte[] batch = TestBatches.Create(Pid, 0, 0, records: 10);
        _harness.Options = new PartitionLogOptions { MaxMessageBytes = batch.Length - 1 };
        await using PartitionLog log = await _harness.OpenAsync();

        LogAppendResult result = await AppendAsync(log, batch);
        LogAppendResult small = await AppendAsync(log, TestBatches.Create(Pid, 0, 0));

        AssertRefused(result, AppendStatus.MessageTooLarge);
        Assert.Equal(AppendStatus.Appended, small.Status);
        Assert.Equal(0, small.BaseOffset);
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task AppendAsync_Compressed_UnsupportedCompression(CompressionType compression)
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0);
        TestBatches.SetAttributes(batch, (short)compression);

        LogAppendResult result = await AppendAsync(log, batch);

        AssertRefused(result, AppendStatus.UnsupportedCompression);
        Assert.Contains(compression.ToString(), result.Message);
        Assert.Equal(0, log.LogEndOffset);
        Assert.False(log.ProducerState.TryGetEntry(Pid, out _));
    }

    [Fact]
    public async Task AppendAsync_MagicOne_UnsupportedMagic()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0);
        batch[16] = 1;

        AssertRefused(await AppendAsync(log, batch), AppendStatus.UnsupportedMagic);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_InconsistentHeader_InvalidRecord()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0, records: 2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(23), 5);
        TestBatches.RecomputeCrc(batch);

        AssertRefused(await AppendAsync(log, batch), AppendStatus.InvalidRecord);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Fact]
    public async Task AppendAsync_TransactionalBatch_InvalidRecordUntilTransactionsExist()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] batch = TestBatches.Create(Pid, 0, 0);
        TestBatches.SetAttributes(batch, 0x10);

        AssertRefused(await AppendAsync(log, batch), AppendStatus.InvalidRecord);
        Assert.Equal(0, log.LogEndOffset);
        Assert.False(log.ProducerState.TryGetEntry(Pid, out _));
    }

    [Fact]
    public async Task AppendAsync_Tombstone_AppendedWithNullValue()
    {
        await using PartitionLog log = await _harness.OpenAsync();

        LogAppendResult result = await AppendAsync(log, TestBatches.Tombstone(Pid, 0, 0));

        Assert.Equal(new LogAppendResult(AppendStatus.Appended, 0, TestBatches.BaseTime), result);
        StoredBatch stored = Assert.Single(await LogHarness.ReadAllAsync(log));
        Assert.Equal([null], stored.Values);
    }

    [Fact]
    public async Task ReadAsync_OffsetRange_NullOutsideEmptyAtHighWatermarkWholeBatchesInside()
    {
        await using PartitionLog log = await _harness.OpenAsync();
        byte[] first = TestBatches.Create(Pid, 0, 0, records: 3, tag: "a");
        await AppendAsync(log, first);
        await AppendAsync(log, TestBatches.Create(Pid, 0, 3, records: 2, tag: "b"));

        Assert.Null(await log.ReadAsync(-1, 1000));
        Assert.Null(await log.ReadAsync(6, 1000));
        ReadOnlyMemory<byte>? atEnd = await log.ReadAsync(5, 1000);
        ReadOnlyMemory<byte>? middle = await log.ReadAsync(1, first.Length);
        ReadOnlyMemory<byte>? tiny = await log.ReadAsync(4, 1);

        Assert.Equal(5, log.HighWatermark);
        Assert.NotNull(atEnd);
        Assert.Equal(0, atEnd.Value.Length);
        Assert.NotNull(middle);
        Assert.Equal(first.Length, middle.Value.Length);
        Assert.True(RecordBatchHeader.TryRead(middle.Value.Span, out RecordBatchHeader header));
        Assert.Equal(0, header.BaseOffset);
        Assert.NotNull(tiny);
        Assert.True(RecordBatchHeader.TryRead(tiny.Value.Span, out RecordBatchHeader second));
        Assert.Equal(3, second.BaseOffset);
    }
}
