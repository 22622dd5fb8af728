using Microsoft.Extensions.Logging;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log;

/// <summary>
/// The embedded log store: Kafka's on-disk layout in one directory per partition. Segment files
/// <c>{baseOffset:D20}.log</c> hold batches back to back; <c>{baseOffset:D20}.index</c> maps relative offsets to positions
/// every <see cref="PartitionLogOptions.IndexIntervalBytes"/>; <c>{offset:D20}.snapshot</c> holds producer-state snapshots;
/// <c>.lock</c> is held exclusively while the store is open (single writer).
/// </summary>
public sealed class FileLogStore : ILogStore
{
    /// <summary>Creates a store over <paramref name="directory"/>; nothing is touched until <see cref="OpenAsync"/>.</summary>
    /// <param name="directory">The partition's directory; created when missing.</param>
    /// <param name="options">Segment size, index interval and flush policy.</param>
    /// <param name="timeProvider">Clock for <see cref="PartitionLogOptions.FlushInterval"/>.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    public FileLogStore(string directory, PartitionLogOptions options, TimeProvider timeProvider, ILogger? logger = null) => throw new NotImplementedException();

    /// <inheritdoc />
    public long LogStartOffset => throw new NotImplementedException();

    /// <inheritdoc />
    public long LogEndOffset => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
