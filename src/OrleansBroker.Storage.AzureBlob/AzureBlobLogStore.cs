using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Log;
using OrleansBroker.Protocol;
using OrleansBroker.Storage.AzureBlob.Internal;

namespace OrleansBroker.Storage.AzureBlob;

/// <summary>
/// A partition log on Azure Blob Storage, with the guarantees of <see cref="FileLogStore"/>: an append is acknowledged only when
/// Azure Storage acknowledged it (durable, replicated), recovery re-reads the stored batches and checks them by length and
/// CRC-32C, producer-state snapshots live beside the log, and storage itself enforces a single writer.
/// </summary>
/// <remarks>
/// <para><b>Layout</b> under the partition's prefix <c>{prefix}/</c> (e.g. <c>orders-0/</c>), in one container:</para>
/// <list type="bullet">
/// <item><c>{baseOffset:D20}.log</c>: one <b>append blob</b> per segment; each batch is one Append Block call.</item>
/// <item><c>{baseOffset:D20}.index</c>: block blob with the sparse offset index of a sealed segment (every
/// <see cref="PartitionLogOptions.IndexIntervalBytes"/>), written at roll; rebuilt by scanning when missing.</item>
/// <item><c>{offset:D20}.snapshot</c>: block blob with a producer-state snapshot; the two newest are kept.</item>
/// <item><c>.writer</c>: empty block blob whose lease is the writer lock.</item>
/// </list>
/// <para><b>Why append blobs, not block blobs.</b> An Append Block call is atomic (the whole block or nothing), durable when it
/// returns success, and costs one request per batch, with no read-modify-write. A block blob would need Put Block + Put Block
/// List per batch, with a list that grows with the segment (every commit re-sends the whole block list), and offers no
/// append-position condition. Append blobs also give <c>If-Append-Position</c>, the natural fencing condition for a log.
/// Limits: 4 MiB per block (the store refuses <see cref="PartitionLogOptions.MaxMessageBytes"/> above 4 MiB in its constructor,
/// rather than splitting a batch across blocks, so a batch is never torn) and 50,000 blocks per blob (the segment rolls at
/// <see cref="AzureBlobLogStoreOptions.MaxBlocksPerSegment"/> blocks or <see cref="PartitionLogOptions.SegmentBytes"/>,
/// whichever comes first).</para>
/// <para><b>Single writer: lease plus conditional writes.</b> <see cref="OpenAsync"/> takes a blob lease on <c>.writer</c>
/// (<see cref="AzureBlobLogStoreOptions.LeaseDuration"/>, 15 s by default, renewed in the background), so a second store opening the
/// same partition fails fast with <see cref="LogFencedException"/>. A lease alone is not a fence: a writer paused past its lease
/// (GC, lost network) may still send a write after another writer took over. Therefore every mutation of the segment chain is
/// conditional on the last state this writer saw: each Append Block carries <c>If-Match</c> (the tail's ETag) and
/// <c>If-Append-Position</c> (the tail's length); a roll first seals the tail by a metadata write under <c>If-Match</c>, then creates
/// the next segment with <c>If-None-Match: *</c>; and <see cref="OpenAsync"/> <i>claims</i> the tail by a metadata write under
/// <c>If-Match</c> before reading it. A claim changes the tail's ETag, so any later append or roll by the previous writer fails
/// with 412, mapped to <see cref="LogFencedException"/>, and writes nothing. The lease makes the common case fast and clear; the
/// conditions make the rare case safe.</para>
/// <para><b>Torn tail.</b> Append blocks are atomic and one block is one batch, so a torn batch cannot come from this store; bytes
/// that fail the length/CRC/offset checks at the tail come from elsewhere. Append blobs cannot be truncated, so recovery records the
/// valid length in the segment's metadata (<c>validlength</c>, with <c>sealed=true</c>), which every read honours, and continues
/// in a new segment whose base offset is the recovered log end offset. A tail with no valid byte is deleted and recreated.</para>
/// <para><b>Durability and flush.</b> Azure Storage acknowledges an append only once it is durably stored, so every acknowledged
/// batch is already durable: <see cref="PartitionLogOptions.FlushMessages"/> and <see cref="PartitionLogOptions.FlushInterval"/>
/// have no effect and <see cref="FlushAsync"/> returns at once.</para>
/// <para><b>Cost.</b> Open lists the prefix, claims and scans the active segment (bounded by <see cref="PartitionLogOptions.SegmentBytes"/>:
/// keep segments smaller than Kafka's 1 GiB default for fast failover, e.g. 64 MiB). Reads and header walks start at the sparse
/// index entry before the offset and fetch <see cref="AzureBlobLogStoreOptions.ReadChunkBytes"/> per request, so their cost scales
/// with the bytes after the offset, not with the log.</para>
/// <para>If an Append Block whose response was lost is retried by the Azure SDK, the retry fails its position condition and the
/// append reports <see cref="LogFencedException"/> although the batch was stored; as the contract says, the outcome of a failed
/// append is unknown and the next open decides (it keeps the batch; the idempotent producer's retry is then a duplicate).</para>
/// </remarks>
public sealed class AzureBlobLogStore : ILogStore
{
    private const string SegmentSuffix = ".log";
    private const string IndexSuffix = ".index";
    private const string SnapshotSuffix = ".snapshot";
    private const string WriterBlobName = ".writer";
    private const string SealedKey = "sealed";
    private const string ValidLengthKey = "validlength";
    private const string WriterKey = "writer";
    private const int OffsetDigits = 20;
    private const int MaxOpenAttempts = 5;
    private const int SnapshotsKept = 2;

    /// <summary>The batch CRC covers bytes [21, end): from the attributes on.</summary>
    private const int CrcCoverageStart = 21;
    private const int MinReadChunkBytes = 4096;
    private const int MaxReadChunkBytes = 64 << 20;

    private readonly BlobContainerClient _container;
    private readonly string _prefix;
    private readonly PartitionLogOptions _options;
    private readonly AzureBlobLogStoreOptions _storeOptions;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly List<Segment> _segments = [];
    private readonly string _writerId = Guid.NewGuid().ToString();

    private BlobLeaseClient? _lease;
    private long _leaseValidUntilTicks;
    private ITimer? _renewTimer;
    private Task _renewTask = Task.CompletedTask;
    private int _renewing;
    private volatile bool _fenced;
    private ETag _tailETag;
    private int _tailBlocks;
    private bool _opened;
    private bool _disposed;
    private bool _appendFailed;
    private long _logStartOffset;
    private long _logEndOffset;

    /// <summary>Creates a store over the blobs under <paramref name="prefix"/> with the default <see cref="AzureBlobLogStoreOptions"/>; nothing is touched until <see cref="OpenAsync"/>.</summary>
    /// <param name="container">The container holding the log (created on open when missing).</param>
    /// <param name="prefix">The partition's blob prefix, e.g. <c>orders-0</c> or <c>logs/orders-0</c>; no leading <c>/</c>, no <c>..</c>.</param>
    /// <param name="options">Segment size, index interval; <see cref="PartitionLogOptions.MaxMessageBytes"/> must be at most 4 MiB.</param>
    /// <param name="timeProvider">Clock for the lease renewal.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    /// <exception cref="ArgumentException">The prefix or the options are invalid; the message says which and why.</exception>
    public AzureBlobLogStore(BlobContainerClient container, string prefix, PartitionLogOptions options, TimeProvider timeProvider, ILogger? logger = null)
        : this(container, prefix, options, AzureBlobLogStoreOptions.Default, timeProvider, logger)
    {
    }

    /// <summary>Creates a store over the blobs under <paramref name="prefix"/>; nothing is touched until <see cref="OpenAsync"/>.</summary>
    /// <param name="container">The container holding the log (created on open when missing, unless disabled).</param>
    /// <param name="prefix">The partition's blob prefix, e.g. <c>orders-0</c> or <c>logs/orders-0</c>; no leading <c>/</c>, no <c>..</c>.</param>
    /// <param name="options">Segment size, index interval; <see cref="PartitionLogOptions.MaxMessageBytes"/> must be at most 4 MiB.</param>
    /// <param name="storeOptions">Lease and read settings.</param>
    /// <param name="timeProvider">Clock for the lease renewal.</param>
    /// <param name="logger">Logger, or <c>null</c>.</param>
    /// <exception cref="ArgumentException">The prefix or the options are invalid; the message says which and why.</exception>
    public AzureBlobLogStore(
        BlobContainerClient container,
        string prefix,
        PartitionLogOptions options,
        AzureBlobLogStoreOptions storeOptions,
        TimeProvider timeProvider,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storeOptions);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _prefix = ValidatePrefix(prefix);
        if (options.MaxMessageBytes > AzureBlobLogStoreOptions.MaxAppendBlockBytes)
        {
            throw new ArgumentException(
                $"MaxMessageBytes is {options.MaxMessageBytes}, but the Azure log store writes each batch as one append block of at most "
                + $"{AzureBlobLogStoreOptions.MaxAppendBlockBytes} bytes (4 MiB); set max.message.bytes to 4 MiB or less.",
                nameof(options));
        }

        if (options.SegmentBytes < 1 || options.IndexIntervalBytes < 1)
        {
            throw new ArgumentException("SegmentBytes and IndexIntervalBytes must be positive.", nameof(options));
        }

        storeOptions.Validate();
        _container = container;
        _options = options;
        _storeOptions = storeOptions;
        _timeProvider = timeProvider;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The partition's blob prefix, without a trailing <c>/</c>.</summary>
    public string Prefix => _prefix;

    /// <inheritdoc />
    public long LogStartOffset => _logStartOffset;

    /// <inheritdoc />
    public long LogEndOffset => _logEndOffset;

    /// <summary>The conventional prefix of a partition's log, as Kafka names its log directories: <c>{topic}-{partition}</c>.</summary>
    /// <param name="topic">The topic name (Kafka's legal characters: letters, digits, '.', '_', '-').</param>
    /// <param name="partition">The partition index, 0 or more.</param>
    /// <returns>The prefix, e.g. <c>orders-0</c>.</returns>
    public static string PartitionPrefix(string topic, int partition)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        return $"{topic}-{partition.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Name of the segment blob starting at <paramref name="baseOffset"/> under <paramref name="prefix"/>: <c>{prefix}/{baseOffset:D20}.log</c>.</summary>
    /// <param name="prefix">The partition's prefix, without a trailing <c>/</c>.</param>
    /// <param name="baseOffset">The segment's base offset.</param>
    /// <returns>The blob name.</returns>
    public static string SegmentBlobName(string prefix, long baseOffset) => $"{prefix}/{FormatOffset(baseOffset)}{SegmentSuffix}";

    /// <summary>Name of the writer-lock blob under <paramref name="prefix"/>: <c>{prefix}/.writer</c>.</summary>
    /// <param name="prefix">The partition's prefix, without a trailing <c>/</c>.</param>
    /// <returns>The blob name.</returns>
    public static string WriterBlobNameFor(string prefix) => $"{prefix}/{WriterBlobName}";

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The store was already opened.</exception>
    public async ValueTask<LogRecoveryInfo> OpenAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_opened)
        {
            throw new InvalidOperationException($"The Azure log '{_prefix}' is already open.");
        }

        try
        {
            if (_storeOptions.CreateContainerIfMissing)
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            }

            await AcquireLeaseAsync(cancellationToken);
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    var info = await RecoverAsync(cancellationToken);
                    _opened = true;
                    StartRenewing();
                    Internal.Log.Opened(_logger, _prefix, info.LogStartOffset, info.LogEndOffset, info.SegmentCount, info.TruncatedBytes, _writerId);
                    return info;
                }
                catch (RequestFailedException e) when (IsRace(e) && attempt < MaxOpenAttempts)
                {
                    Internal.Log.OpenRaced(_logger, _prefix, attempt, e.ErrorCode);
                }
            }
        }
        catch (Exception e)
        {
            await ReleaseLeaseQuietlyAsync();
            if (e is LogStorageException or OperationCanceledException)
            {
                throw;
            }

            throw MapException(e, "open");
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The batch is not one batch of <paramref name="header"/>'s size, its base offset is not
    /// <see cref="LogEndOffset"/>, or it is larger than 4 MiB. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The store is not open, or an earlier append failed (dispose and reopen).</exception>
    public async ValueTask<bool> AppendAsync(ReadOnlyMemory<byte> batch, RecordBatchHeader header, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        if (_appendFailed)
        {
            throw new InvalidOperationException($"An earlier append to the Azure log '{_prefix}' failed; dispose the store and open a new one.");
        }

        if (batch.Length < RecordBatchHeader.Size || batch.Length != header.TotalSize)
        {
            throw new ArgumentException($"The batch has {batch.Length} bytes; its header says {header.TotalSize} (at least {RecordBatchHeader.Size}).", nameof(batch));
        }

        if (batch.Length > AzureBlobLogStoreOptions.MaxAppendBlockBytes)
        {
            throw new ArgumentException($"The batch has {batch.Length} bytes; an append block holds at most {AzureBlobLogStoreOptions.MaxAppendBlockBytes}.", nameof(batch));
        }

        if (header.BaseOffset != _logEndOffset || BinaryPrimitives.ReadInt64BigEndian(batch.Span) != _logEndOffset)
        {
            throw new ArgumentException($"The batch's base offset is {header.BaseOffset}; the log end offset is {_logEndOffset}.", nameof(header));
        }

        if (header.LastOffsetDelta < 0)
        {
            throw new ArgumentException($"The batch's last offset delta is {header.LastOffsetDelta}.", nameof(header));
        }

        try
        {
            await EnsureLeaseAsync(cancellationToken);
            var tail = _segments[^1];
            bool rolled = false;
            if (tail.Length > 0
                && (tail.Length + batch.Length > _options.SegmentBytes || _tailBlocks >= _storeOptions.MaxBlocksPerSegment))
            {
                await RollAsync(cancellationToken);
                tail = _segments[^1];
                rolled = true;
            }

            long position = tail.Length;
            using var content = AsStream(batch);
            var response = await tail.Blob.AppendBlockAsync(
                content,
                new AppendBlobAppendBlockOptions
                {
                    Conditions = new AppendBlobRequestConditions { IfMatch = _tailETag, IfAppendPositionEqual = position },
                },
                cancellationToken);

            _tailETag = response.Value.ETag;
            _tailBlocks = response.Value.BlobCommittedBlockCount;
            tail.Length = position + batch.Length;
            tail.Index!.OnBatch(header.BaseOffset, position, batch.Length);
            _logEndOffset = header.LastOffset + 1;
            tail.NextOffset = _logEndOffset;
            return rolled;
        }
        catch (Exception e)
        {
            _appendFailed = true;
            if (e is LogStorageException or OperationCanceledException)
            {
                throw;
            }

            var mapped = MapException(e, "append");
            if (mapped is LogFencedException)
            {
                Internal.Log.Fenced(_logger, _prefix, (e as RequestFailedException)?.ErrorCode);
            }

            throw mapped;
        }
    }

    /// <inheritdoc />
    /// <remarks>May span segments. A batch is never split; the first batch is returned whole even when larger than <paramref name="maxBytes"/>.</remarks>
    /// <exception cref="LogStorageException">The storage failed or holds bytes that are not batches.</exception>
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        ArgumentOutOfRangeException.ThrowIfLessThan(offset, _logStartOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, _logEndOffset);
        if (offset == _logEndOffset)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        try
        {
            var parts = new List<ReadOnlyMemory<byte>>();
            long total = 0;
            for (int si = FindSegment(offset); si < _segments.Count; si++)
            {
                var segment = _segments[si];
                long position = 0;
                long expected = Math.Max(0, (long)maxBytes - total) + (2 * RecordBatchHeader.Size);
                if (parts.Count == 0 && offset > segment.BaseOffset)
                {
                    position = (await GetIndexAsync(segment, cancellationToken)).Floor(offset);
                    expected += _options.IndexIntervalBytes;
                }

                // One request usually holds the index gap and the whole answer; later requests (large batches) are as large.
                int chunk = (int)Math.Clamp(expected, MinReadChunkBytes, MaxReadChunkBytes);

                var reader = new BlobRangeReader(segment.Blob, segment.Length, chunk);
                while (position < segment.Length)
                {
                    var h = await ReadHeaderAsync(reader, segment, position, cancellationToken);
                    if (h.LastOffset >= offset)
                    {
                        break;
                    }

                    position += h.TotalSize;
                }

                long runStart = position;
                bool full = false;
                while (position < segment.Length)
                {
                    var h = await ReadHeaderAsync(reader, segment, position, cancellationToken);
                    long taken = total + (position - runStart);
                    if (taken > 0 && taken + h.TotalSize > maxBytes)
                    {
                        full = true;
                        break;
                    }

                    position += h.TotalSize;
                }

                if (position > runStart)
                {
                    int length = checked((int)(position - runStart));
                    await reader.EnsureAsync(runStart, length, cancellationToken);
                    parts.Add(reader.Slice(runStart, length));
                    total += length;
                }

                if (full || total >= maxBytes)
                {
                    break;
                }
            }

            return Concat(parts, total);
        }
        catch (Exception e) when (e is not (LogStorageException or OperationCanceledException))
        {
            throw MapException(e, "read");
        }
    }

    /// <inheritdoc />
    /// <exception cref="LogStorageException">The storage failed or holds bytes that are not batches.</exception>
    public async IAsyncEnumerable<RecordBatchHeader> ReadHeadersAsync(long fromOffset, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        if (fromOffset >= _logEndOffset)
        {
            yield break;
        }

        int first = fromOffset <= _logStartOffset ? 0 : FindSegment(fromOffset);
        for (int si = first; si < _segments.Count; si++)
        {
            var segment = _segments[si];
            long position = si == first && fromOffset > segment.BaseOffset
                ? (await WrapAsync(GetIndexAsync(segment, cancellationToken), "read")).Floor(fromOffset)
                : 0;
            var reader = new BlobRangeReader(segment.Blob, segment.Length, _storeOptions.ReadChunkBytes);
            while (position < segment.Length)
            {
                var header = await WrapAsync(ReadHeaderAsync(reader, segment, position, cancellationToken), "read");
                if (header.LastOffset >= fromOffset)
                {
                    yield return header;
                }

                position += header.TotalSize;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Every acknowledged append is already durable in Azure Storage: nothing to do.</remarks>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>The snapshot is one block blob <c>{offset:D20}.snapshot</c>, written in one atomic upload (a snapshot at the same offset is replaced).</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative or past <see cref="LogEndOffset"/>.</exception>
    /// <exception cref="LogFencedException">The writer lost its lease.</exception>
    /// <exception cref="LogStorageException">The storage failed.</exception>
    public async ValueTask WriteProducerSnapshotAsync(long offset, ReadOnlyMemory<byte> snapshot, CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, _logEndOffset);
        try
        {
            await EnsureLeaseAsync(cancellationToken);
            await _container.GetBlobClient(SnapshotBlobName(offset)).UploadAsync(new BinaryData(snapshot), overwrite: true, cancellationToken);
            var offsets = await ListSnapshotOffsetsAsync(cancellationToken);
            foreach (long old in offsets.Skip(SnapshotsKept))
            {
                await _container.GetBlobClient(SnapshotBlobName(old)).DeleteIfExistsAsync(cancellationToken: cancellationToken);
            }
        }
        catch (Exception e) when (e is not (LogStorageException or OperationCanceledException))
        {
            throw MapException(e, "snapshot write");
        }
    }

    /// <inheritdoc />
    /// <exception cref="LogStorageException">The storage failed.</exception>
    public async IAsyncEnumerable<(long Offset, byte[] Snapshot)> ReadProducerSnapshotsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfNotOpen();
        var offsets = await WrapAsync(ListSnapshotOffsetsAsync(cancellationToken), "snapshot read");
        foreach (long offset in offsets)
        {
            if (offset > _logEndOffset)
            {
                continue;
            }

            byte[]? bytes = await WrapAsync(DownloadIfExistsAsync(SnapshotBlobName(offset), cancellationToken), "snapshot read");
            if (bytes is not null)
            {
                yield return (offset, bytes);
            }
        }
    }

    /// <summary>Stops the lease renewal and releases the writer lease (best effort: an unreleased lease expires by itself).</summary>
    /// <returns>A task that completes when released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _opened = false;
        if (_renewTimer is not null)
        {
            await _renewTimer.DisposeAsync();
            _renewTimer = null;
        }

        await _renewTask;
        await ReleaseLeaseQuietlyAsync();
    }

    private static string ValidatePrefix(string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        string trimmed = prefix.TrimEnd('/');
        if (trimmed.Length == 0 || trimmed.StartsWith('/') || trimmed.Contains('\\', StringComparison.Ordinal)
            || trimmed.Split('/').Any(part => part is "" or "." or ".."))
        {
            throw new ArgumentException(
                $"The blob prefix '{prefix}' is invalid: it must be a relative path such as 'orders-0' or 'logs/orders-0', without a leading '/', '\\', empty, '.' or '..' parts.",
                nameof(prefix));
        }

        if (trimmed.Length > 900)
        {
            throw new ArgumentException($"The blob prefix is {trimmed.Length} characters; at most 900 leave room for the blob names.", nameof(prefix));
        }

        return trimmed;
    }

    private static string FormatOffset(long offset) => offset.ToString("D" + OffsetDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static bool TryParseOffset(string name, string prefix, string suffix, out long offset)
    {
        offset = 0;
        if (!name.StartsWith(prefix + "/", StringComparison.Ordinal) || !name.EndsWith(suffix, StringComparison.Ordinal)
            || name.Length != prefix.Length + 1 + OffsetDigits + suffix.Length)
        {
            return false;
        }

        return long.TryParse(name.AsSpan(prefix.Length + 1, OffsetDigits), NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }

    private static bool IsRace(RequestFailedException e) =>
        e.Status == 412 || e.ErrorCode == BlobErrorCode.BlobAlreadyExists || e.ErrorCode == BlobErrorCode.BlobNotFound;

    private static bool IsLeaseConflict(RequestFailedException e) =>
        e.ErrorCode == BlobErrorCode.LeaseAlreadyPresent
        || e.ErrorCode == BlobErrorCode.LeaseIdMismatchWithLeaseOperation
        || e.ErrorCode == BlobErrorCode.LeaseIdMismatchWithBlobOperation
        || e.ErrorCode == BlobErrorCode.LeaseIsBreakingAndCannotBeAcquired
        || e.ErrorCode == BlobErrorCode.LeaseIsBrokenAndCannotBeRenewed
        || e.ErrorCode == BlobErrorCode.LeaseNotPresentWithLeaseOperation
        || e.ErrorCode == BlobErrorCode.LeaseLost;

    private static MemoryStream AsStream(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Array is not null
            ? new MemoryStream(segment.Array, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

    private static ReadOnlyMemory<byte> Concat(List<ReadOnlyMemory<byte>> parts, long total)
    {
        if (parts.Count == 1)
        {
            return parts[0];
        }

        var bytes = new byte[total];
        int at = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(bytes.AsSpan(at));
            at += part.Length;
        }

        return bytes;
    }

    private static Dictionary<string, string> Metadata(IDictionary<string, string>? existing) =>
        existing is null ? new(StringComparer.OrdinalIgnoreCase) : new(existing, StringComparer.OrdinalIgnoreCase);

    private static long ValidLength(BlobItem item)
    {
        long length = item.Properties.ContentLength ?? 0;
        if (item.Metadata is not null && item.Metadata.TryGetValue(ValidLengthKey, out string? text)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long valid))
        {
            length = Math.Min(length, valid);
        }

        return length;
    }

    private static bool IsSealed(BlobItem item) =>
        item.Metadata is not null && item.Metadata.TryGetValue(SealedKey, out string? value) && value == "true";

    private static async ValueTask<T> WrapAsync<T>(ValueTask<T> task, string operation)
    {
        try
        {
            return await task;
        }
        catch (Exception e) when (e is not (LogStorageException or OperationCanceledException))
        {
            throw MapException(e, operation);
        }
    }

    private static async ValueTask<T> WrapAsync<T>(Task<T> task, string operation)
    {
        try
        {
            return await task;
        }
        catch (Exception e) when (e is not (LogStorageException or OperationCanceledException))
        {
            throw MapException(e, operation);
        }
    }

    private static LogStorageException MapException(Exception e, string operation) => e switch
    {
        RequestFailedException r when r.Status == 412 || r.ErrorCode == BlobErrorCode.BlobAlreadyExists || IsLeaseConflict(r) =>
            new LogFencedException($"Azure log {operation} was fenced: another writer changed the log or holds its lease ({r.ErrorCode}, HTTP {r.Status}).", r),
        RequestFailedException r =>
            new LogStorageException($"Azure log {operation} failed: {r.ErrorCode} (HTTP {r.Status}).", r),
        InvalidDataException d => new LogStorageException($"Azure log {operation} found damaged data: {d.Message}", d),
        _ => new LogStorageException($"Azure log {operation} failed: {e.Message}", e),
    };

    private string SnapshotBlobName(long offset) => $"{_prefix}/{FormatOffset(offset)}{SnapshotSuffix}";

    private string IndexBlobName(long baseOffset) => $"{_prefix}/{FormatOffset(baseOffset)}{IndexSuffix}";

    private AppendBlobClient SegmentBlob(long baseOffset) => _container.GetAppendBlobClient(SegmentBlobName(_prefix, baseOffset));

    private void ThrowIfNotOpen()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_opened)
        {
            throw new InvalidOperationException($"The Azure log '{_prefix}' is not open; call OpenAsync first.");
        }
    }

    private int FindSegment(long offset)
    {
        int lo = 0;
        int hi = _segments.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_segments[mid].BaseOffset <= offset)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private async ValueTask AcquireLeaseAsync(CancellationToken cancellationToken)
    {
        var lockBlob = _container.GetBlobClient(WriterBlobNameFor(_prefix));
        try
        {
            await lockBlob.UploadAsync(
                BinaryData.Empty,
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // The lock blob exists already (possibly leased by another writer): the lease decides.
        }

        var lease = lockBlob.GetBlobLeaseClient(_writerId);
        var started = _timeProvider.GetUtcNow();
        try
        {
            await lease.AcquireAsync(_storeOptions.LeaseDuration, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new LogFencedException($"The Azure log '{_prefix}' is held by another writer: the lease on '{lockBlob.Name}' is taken ({e.ErrorCode}).", e);
        }

        _lease = lease;
        Interlocked.Exchange(
            ref _leaseValidUntilTicks,
            _storeOptions.LeaseDuration == Timeout.InfiniteTimeSpan ? long.MaxValue : (started + _storeOptions.LeaseDuration).UtcTicks);
    }

    private async ValueTask<LogRecoveryInfo> RecoverAsync(CancellationToken cancellationToken)
    {
        _segments.Clear();
        var items = new List<(long BaseOffset, BlobItem Item)>();
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = _prefix + "/", Traits = BlobTraits.Metadata }, cancellationToken))
        {
            if (TryParseOffset(item.Name, _prefix, SegmentSuffix, out long baseOffset))
            {
                items.Add((baseOffset, item));
            }
        }

        items.Sort((a, b) => a.BaseOffset.CompareTo(b.BaseOffset));
        if (items.Count == 0)
        {
            await StartSegmentAsync(0, cancellationToken);
            _logStartOffset = 0;
            _logEndOffset = 0;
            return new LogRecoveryInfo(0, 0, 1, 0);
        }

        for (int i = 0; i < items.Count - 1; i++)
        {
            _segments.Add(new Segment(items[i].BaseOffset, SegmentBlob(items[i].BaseOffset))
            {
                Length = ValidLength(items[i].Item),
                NextOffset = items[i + 1].BaseOffset,
            });
        }

        var (tailBase, tailItem) = items[^1];
        var tail = new Segment(tailBase, SegmentBlob(tailBase));
        bool wasSealed = IsSealed(tailItem);
        long length = ValidLength(tailItem);
        var etag = tailItem.Properties.ETag!.Value;
        var metadata = Metadata(tailItem.Metadata);
        if (!wasSealed)
        {
            // The claim: from here on the previous writer's conditional appends and rolls fail, so the bytes read below are final.
            metadata[WriterKey] = _writerId;
            etag = (await tail.Blob.SetMetadataAsync(metadata, new BlobRequestConditions { IfMatch = etag }, cancellationToken)).Value.ETag;
        }

        var scan = await ScanAsync(tail, length, validateCrc: true, cancellationToken);
        tail.Length = scan.ValidLength;
        tail.NextOffset = scan.NextOffset;
        tail.Index = scan.Index;
        long truncated = length - scan.ValidLength;
        if (truncated > 0)
        {
            Internal.Log.TornTail(_logger, _prefix, tailBase, truncated, scan.ValidLength);
        }

        if (scan.ValidLength == 0 && (truncated > 0 || wasSealed))
        {
            // Nothing valid in the tail: replace it by an empty segment of the same name.
            await tail.Blob.DeleteAsync(conditions: new BlobRequestConditions { IfMatch = etag }, cancellationToken: cancellationToken);
            await StartSegmentAsync(tailBase, cancellationToken);
        }
        else if (truncated > 0 || wasSealed)
        {
            if (truncated > 0 || !metadata.ContainsKey(ValidLengthKey))
            {
                metadata[SealedKey] = "true";
                metadata[ValidLengthKey] = scan.ValidLength.ToString(CultureInfo.InvariantCulture);
                metadata[WriterKey] = _writerId;
                await tail.Blob.SetMetadataAsync(metadata, new BlobRequestConditions { IfMatch = etag }, cancellationToken);
            }

            await UploadIndexAsync(tail, cancellationToken);
            _segments.Add(tail);
            await StartSegmentAsync(scan.NextOffset, cancellationToken);
        }
        else
        {
            var properties = await tail.Blob.GetPropertiesAsync(new BlobRequestConditions { IfMatch = etag }, cancellationToken);
            _segments.Add(tail);
            _tailETag = etag;
            _tailBlocks = properties.Value.BlobCommittedBlockCount;
        }

        _logStartOffset = _segments[0].BaseOffset;
        _logEndOffset = _segments[^1].NextOffset;
        return new LogRecoveryInfo(_logStartOffset, _logEndOffset, _segments.Count, truncated);
    }

    /// <summary>Creates an empty segment blob at <paramref name="baseOffset"/> (failing if it exists) and makes it the tail.</summary>
    private async ValueTask StartSegmentAsync(long baseOffset, CancellationToken cancellationToken)
    {
        var blob = SegmentBlob(baseOffset);
        var created = await blob.CreateAsync(
            new AppendBlobCreateOptions
            {
                Metadata = new Dictionary<string, string> { [WriterKey] = _writerId },
                Conditions = new AppendBlobRequestConditions { IfNoneMatch = ETag.All },
            },
            cancellationToken);
        _segments.Add(new Segment(baseOffset, blob) { Length = 0, NextOffset = baseOffset, Index = new SparseIndex(_options.IndexIntervalBytes) });
        _tailETag = created.Value.ETag;
        _tailBlocks = 0;
    }

    /// <summary>Seals the tail (conditional on its ETag), stores its index, and starts the next segment at the log end offset.</summary>
    private async ValueTask RollAsync(CancellationToken cancellationToken)
    {
        var tail = _segments[^1];
        var metadata = new Dictionary<string, string>
        {
            [WriterKey] = _writerId,
            [SealedKey] = "true",
            [ValidLengthKey] = tail.Length.ToString(CultureInfo.InvariantCulture),
        };
        await tail.Blob.SetMetadataAsync(metadata, new BlobRequestConditions { IfMatch = _tailETag }, cancellationToken);
        await UploadIndexAsync(tail, cancellationToken);
        await StartSegmentAsync(_logEndOffset, cancellationToken);
        Internal.Log.Rolled(_logger, _prefix, _logEndOffset);
    }

    private async ValueTask UploadIndexAsync(Segment segment, CancellationToken cancellationToken)
    {
        if (segment.Index is { Count: > 0 } index)
        {
            await _container.GetBlobClient(IndexBlobName(segment.BaseOffset)).UploadAsync(new BinaryData(index.Serialize()), overwrite: true, cancellationToken);
        }
    }

    private async ValueTask<SparseIndex> GetIndexAsync(Segment segment, CancellationToken cancellationToken)
    {
        if (segment.Index is not null)
        {
            return segment.Index;
        }

        byte[]? bytes = await DownloadIfExistsAsync(IndexBlobName(segment.BaseOffset), cancellationToken);
        var index = bytes is null ? null : SparseIndex.TryDeserialize(bytes, _options.IndexIntervalBytes, segment.Length);
        if (index is null)
        {
            Internal.Log.IndexRebuilt(_logger, _prefix, segment.BaseOffset);
            index = (await ScanAsync(segment, segment.Length, validateCrc: false, cancellationToken)).Index;
        }

        segment.Index = index;
        return index;
    }

    /// <summary>Walks a segment's batches from position 0, stopping at the first bytes that are not the next batch.</summary>
    private async ValueTask<ScanResult> ScanAsync(Segment segment, long length, bool validateCrc, CancellationToken cancellationToken)
    {
        var reader = new BlobRangeReader(segment.Blob, length, _storeOptions.ReadChunkBytes);
        var index = new SparseIndex(_options.IndexIntervalBytes);
        long position = 0;
        long expected = segment.BaseOffset;
        while (position < length)
        {
            if (!await reader.EnsureAsync(position, RecordBatchHeader.Size, cancellationToken)
                || !RecordBatchHeader.TryRead(reader.Slice(position, RecordBatchHeader.Size).Span, out var header)
                || header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead
                || header.TotalSize > length - position
                || header.Magic != RecordBatchHeader.CurrentMagic
                || header.BaseOffset != expected
                || header.LastOffsetDelta < 0)
            {
                break;
            }

            if (validateCrc)
            {
                await reader.EnsureAsync(position, header.TotalSize, cancellationToken);
                var bytes = reader.Slice(position, header.TotalSize).Span;
                if (Crc32C.Compute(bytes[CrcCoverageStart..]) != header.Crc)
                {
                    break;
                }
            }

            index.OnBatch(header.BaseOffset, position, header.TotalSize);
            expected = header.LastOffset + 1;
            position += header.TotalSize;
        }

        return new ScanResult(position, expected, index);
    }

    private static async ValueTask<RecordBatchHeader> ReadHeaderAsync(BlobRangeReader reader, Segment segment, long position, CancellationToken cancellationToken)
    {
        if (!await reader.EnsureAsync(position, RecordBatchHeader.Size, cancellationToken)
            || !RecordBatchHeader.TryRead(reader.Slice(position, RecordBatchHeader.Size).Span, out var header)
            || header.BatchLength < RecordBatchHeader.Size - RecordBatchHeader.LogOverhead
            || header.TotalSize > segment.Length - position)
        {
            throw new InvalidDataException($"Segment '{segment.Blob.Name}' holds no whole batch at position {position} (valid length {segment.Length}).");
        }

        return header;
    }

    private async Task<List<long>> ListSnapshotOffsetsAsync(CancellationToken cancellationToken)
    {
        var offsets = new List<long>();
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = _prefix + "/" }, cancellationToken))
        {
            if (TryParseOffset(item.Name, _prefix, SnapshotSuffix, out long offset))
            {
                offsets.Add(offset);
            }
        }

        offsets.Sort((a, b) => b.CompareTo(a));
        return offsets;
    }

    private async Task<byte[]?> DownloadIfExistsAsync(string blobName, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _container.GetBlobClient(blobName).DownloadContentAsync(cancellationToken);
            return response.Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    private async ValueTask EnsureLeaseAsync(CancellationToken cancellationToken)
    {
        if (_fenced)
        {
            throw new LogFencedException($"The Azure log '{_prefix}' lost its writer lease; another writer may hold it.");
        }

        if (_timeProvider.GetUtcNow().UtcTicks >= Interlocked.Read(ref _leaseValidUntilTicks))
        {
            // The background renewal has not kept up (or the clock jumped): renew before writing.
            await RenewLeaseAsync(cancellationToken);
            if (_fenced)
            {
                throw new LogFencedException($"The Azure log '{_prefix}' lost its writer lease; another writer holds it.");
            }
        }
    }

    private void StartRenewing()
    {
        if (_storeOptions.LeaseDuration == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var interval = _storeOptions.EffectiveRenewInterval;
        _renewTimer = _timeProvider.CreateTimer(_ => OnRenewTimer(), null, interval, interval);
    }

    private void OnRenewTimer()
    {
        if (Interlocked.Exchange(ref _renewing, 1) == 1)
        {
            return;
        }

        _renewTask = RenewInBackgroundAsync();
    }

    private async Task RenewInBackgroundAsync()
    {
        try
        {
            await RenewLeaseAsync(CancellationToken.None);
        }
#pragma warning disable CA1031 // A background renewal must not fault: a failure is logged and the next tick retries.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Internal.Log.RenewFailed(_logger, e, _prefix);
        }
        finally
        {
            Volatile.Write(ref _renewing, 0);
        }
    }

    private async ValueTask RenewLeaseAsync(CancellationToken cancellationToken)
    {
        var lease = _lease;
        if (lease is null || _disposed)
        {
            return;
        }

        var started = _timeProvider.GetUtcNow();
        try
        {
            await lease.RenewAsync(cancellationToken: cancellationToken);
            Interlocked.Exchange(ref _leaseValidUntilTicks, (started + _storeOptions.LeaseDuration).UtcTicks);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 || IsLeaseConflict(e))
        {
            _fenced = true;
            Internal.Log.LeaseLost(_logger, _prefix, e.ErrorCode);
        }
    }

    private async ValueTask ReleaseLeaseQuietlyAsync()
    {
        var lease = _lease;
        _lease = null;
        if (lease is null || _fenced)
        {
            return;
        }

        try
        {
            await lease.ReleaseAsync();
        }
        catch (Exception e) when (e is RequestFailedException or IOException or AggregateException or OperationCanceledException)
        {
            Internal.Log.ReleaseFailed(_logger, e, _prefix);
        }
    }

    private readonly record struct ScanResult(long ValidLength, long NextOffset, SparseIndex Index);
}
