using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.TestDoubles;

/// <summary>One batch read back from a partition log.</summary>
/// <param name="Header">Its header as stored.</param>
/// <param name="Values">Its record values (UTF-8; <c>null</c> for a tombstone).</param>
public sealed record StoredBatch(RecordBatchHeader Header, IReadOnlyList<string?> Values);

/// <summary>A partition on a <see cref="MemoryDisk"/> with a fake clock: opens logs and reads back what is stored.</summary>
public sealed class LogHarness
{
    /// <summary>The partition's disk.</summary>
    public MemoryDisk Disk { get; } = new();

    /// <summary>The clock.</summary>
    public FakeTimeProvider Time { get; } = new();

    /// <summary>Options for the next <see cref="OpenAsync"/>.</summary>
    public PartitionLogOptions Options { get; set; } = new();

    /// <summary>Segment size of the stores opened.</summary>
    public int SegmentBytes { get; set; } = int.MaxValue;

    /// <summary>The store of the last <see cref="OpenAsync"/>.</summary>
    public MemoryLogStore? Store { get; private set; }

    /// <summary>Opens a new store on the disk and a log over it.</summary>
    /// <returns>The recovered log.</returns>
    public async Task<PartitionLog> OpenAsync()
    {
        Store = new MemoryLogStore(Disk, SegmentBytes);
        return await PartitionLog.OpenAsync(Store, Options, Time);
    }

    /// <summary>Every batch in the log, in offset order, with its record values.</summary>
    /// <param name="log">An open log.</param>
    /// <returns>The batches.</returns>
    public static async Task<IReadOnlyList<StoredBatch>> ReadAllAsync(PartitionLog log)
    {
        ReadOnlyMemory<byte>? bytes = await log.ReadAsync(log.LogStartOffset, int.MaxValue);
        Assert.NotNull(bytes);
        var result = new List<StoredBatch>();
        foreach ((RecordBatchHeader header, ReadOnlyMemory<byte> batch) in RecordBatchReader.ReadBatches(bytes.Value))
        {
            Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch.Span, int.MaxValue, out _));
            var values = RecordBatchReader.ReadRecords(batch)
                .Select(r => r.Value is { } v ? Encoding.UTF8.GetString(v.Span) : null)
                .ToList();
            result.Add(new StoredBatch(header, values));
        }

        return result;
    }

    /// <summary>Every record value in the log, in offset order.</summary>
    /// <param name="log">An open log.</param>
    /// <returns>The values.</returns>
    public static async Task<IReadOnlyList<string?>> ReadValuesAsync(PartitionLog log) =>
        (await ReadAllAsync(log)).SelectMany(b => b.Values).ToList();
}
