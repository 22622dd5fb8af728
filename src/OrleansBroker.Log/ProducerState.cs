using System.Buffers.Binary;
using System.Collections.ObjectModel;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log;

/// <summary>Metadata of one appended batch, kept for duplicate detection (Kafka's <c>BatchMetadata</c>).</summary>
/// <param name="FirstSequence">Base sequence.</param>
/// <param name="LastSequence">Sequence of the last record (with wrap).</param>
/// <param name="FirstOffset">Offset the batch was written at.</param>
/// <param name="LastOffset">Offset of its last record.</param>
/// <param name="Timestamp">Its max timestamp, ms since the Unix epoch.</param>
public readonly record struct BatchMetadata(int FirstSequence, int LastSequence, long FirstOffset, long LastOffset, long Timestamp);

/// <summary>What <see cref="ProducerStateManager.CheckAppend"/> decided for a batch.</summary>
public enum AppendCheckKind
{
    /// <summary>Write it.</summary>
    Accept,

    /// <summary>Already written: acknowledge with <see cref="AppendCheck.Duplicate"/>'s offset, write nothing.</summary>
    Duplicate,

    /// <summary>The epoch is older than the producer's current one (fenced).</summary>
    InvalidProducerEpoch,

    /// <summary>The base sequence is not the next one; <see cref="AppendCheck.ExpectedSequence"/> says which is.</summary>
    OutOfOrderSequence,
}

/// <summary>The decision for one batch, before anything is written.</summary>
/// <param name="Kind">The decision.</param>
/// <param name="Duplicate">For <see cref="AppendCheckKind.Duplicate"/>: the original batch.</param>
/// <param name="ExpectedSequence">For <see cref="AppendCheckKind.OutOfOrderSequence"/>: the base sequence expected (0 after an epoch bump); otherwise -1.</param>
/// <param name="CurrentEpoch">The producer's current epoch at this partition, or -1 when unknown.</param>
public readonly record struct AppendCheck(AppendCheckKind Kind, BatchMetadata Duplicate = default, int ExpectedSequence = -1, short CurrentEpoch = -1);

/// <summary>
/// One producer's state at one partition (Kafka's <c>ProducerStateEntry</c>): its current epoch and its last 5 batches,
/// oldest first. A batch of a newer epoch clears the history.
/// </summary>
public sealed class ProducerStateEntry
{
    private readonly List<BatchMetadata> _batches = new(PartitionLogOptions.ProducerBatchHistory);

    /// <summary>Creates an entry with no batches.</summary>
    /// <param name="producerId">The PID.</param>
    /// <param name="producerEpoch">Its epoch.</param>
    /// <param name="lastTimestamp">Wall-clock time of its last append (for expiry).</param>
    public ProducerStateEntry(long producerId, short producerEpoch, DateTimeOffset lastTimestamp)
    {
        ProducerId = producerId;
        ProducerEpoch = producerEpoch;
        LastUpdated = lastTimestamp;
        Batches = new ReadOnlyCollection<BatchMetadata>(_batches);
    }

    /// <summary>The PID.</summary>
    public long ProducerId { get; }

    /// <summary>The current epoch.</summary>
    public short ProducerEpoch { get; private set; }

    /// <summary>Wall-clock time of the last append, for <see cref="PartitionLogOptions.ProducerIdExpiration"/>.</summary>
    public DateTimeOffset LastUpdated { get; private set; }

    /// <summary>The last batches, oldest first; at most <see cref="PartitionLogOptions.ProducerBatchHistory"/>.</summary>
    public IReadOnlyList<BatchMetadata> Batches { get; }

    /// <summary>Last sequence of the newest batch, or -1 when none.</summary>
    public int LastSequence => _batches.Count == 0 ? RecordBatchHeader.NoSequence : _batches[^1].LastSequence;

    /// <summary>
    /// Finds the batch a retry duplicates (Kafka's <c>findDuplicateBatch</c>): same epoch as the current one and exactly the same
    /// first and last sequence as one of the remembered batches.
    /// </summary>
    /// <param name="producerEpoch">The retried batch's epoch.</param>
    /// <param name="firstSequence">Its base sequence.</param>
    /// <param name="lastSequence">Its last sequence (with wrap).</param>
    /// <param name="batch">The original batch when found.</param>
    /// <returns>True when the batch was already written.</returns>
    public bool TryFindDuplicate(short producerEpoch, int firstSequence, int lastSequence, out BatchMetadata batch)
    {
        if (producerEpoch == ProducerEpoch)
        {
            foreach (BatchMetadata candidate in _batches)
            {
                if (candidate.FirstSequence == firstSequence && candidate.LastSequence == lastSequence)
                {
                    batch = candidate;
                    return true;
                }
            }
        }

        batch = default;
        return false;
    }

    /// <summary>Records a written batch (Kafka's <c>addBatch</c>): a different epoch clears the history; the oldest beyond 5 is dropped.</summary>
    internal void AddBatch(short producerEpoch, BatchMetadata batch, DateTimeOffset lastUpdated)
    {
        if (producerEpoch != ProducerEpoch)
        {
            ProducerEpoch = producerEpoch;
            _batches.Clear();
        }

        if (_batches.Count == PartitionLogOptions.ProducerBatchHistory)
        {
            _batches.RemoveAt(0);
        }

        _batches.Add(batch);
        LastUpdated = lastUpdated;
    }
}

/// <summary>
/// The per-partition producer-id → state map and the idempotence rules of SEMANTICS.md (rules 3–7), plus expiry and
/// snapshots (Kafka's <c>ProducerStateManager</c> with all 5 batches kept in snapshots). Not thread-safe: one partition grain turn at a time.
/// </summary>
public sealed class ProducerStateManager
{
    /// <summary>Snapshot format version written by <see cref="CreateSnapshot"/>.</summary>
    public const short SnapshotVersion = 1;

    private const int SnapshotHeaderSize = 2 + 4 + 8 + 4;
    private const int SnapshotCrcOffset = 2;
    private const int SnapshotBodyOffset = 6;
    private const int SnapshotProducerSize = 8 + 2 + 8 + 4;
    private const int SnapshotBatchSize = 4 + 4 + 8 + 8 + 8;
    private const long MinUnixMilliseconds = -62_135_596_800_000;
    private const long MaxUnixMilliseconds = 253_402_300_799_999;

    private readonly TimeSpan _producerIdExpiration;
    private readonly TimeProvider _timeProvider;
    private Dictionary<long, ProducerStateEntry> _producers = [];

    /// <summary>Creates an empty map.</summary>
    /// <param name="producerIdExpiration">Idle time after which a producer is forgotten.</param>
    /// <param name="timeProvider">Clock for expiry.</param>
    public ProducerStateManager(TimeSpan producerIdExpiration, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(producerIdExpiration, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _producerIdExpiration = producerIdExpiration;
        _timeProvider = timeProvider;
    }

    /// <summary>Producers currently remembered.</summary>
    public int ProducerCount => _producers.Count;

    /// <summary>Looks up one producer.</summary>
    /// <param name="producerId">The PID.</param>
    /// <param name="entry">Its state.</param>
    /// <returns>False when the PID is unknown (new or expired).</returns>
    public bool TryGetEntry(long producerId, out ProducerStateEntry entry) => _producers.TryGetValue(producerId, out entry!);

    /// <summary>
    /// Applies rules 3–7 to a batch from an idempotent producer (PID ≥ 0) without changing anything: fenced epoch,
    /// duplicate of one of the last 5 batches (same epoch, same first and last sequence), new epoch must start at 0,
    /// same epoch must continue at last + 1 (with wrap), unknown producer accepts any sequence.
    /// </summary>
    /// <param name="header">The batch header.</param>
    /// <returns>The decision.</returns>
    /// <remarks>
    /// A known producer whose history is empty (possible only through a snapshot that carries no batch for it) accepts any sequence in
    /// its current epoch, as rule 7 does for an unknown one: there is no last sequence to continue. Never expires producers itself;
    /// expiry runs only through <see cref="RemoveExpired"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">The batch has no producer id (PID -1: rule 1 belongs to the caller).</exception>
    public AppendCheck CheckAppend(in RecordBatchHeader header)
    {
        if (!header.HasProducerId)
        {
            throw new ArgumentException("A batch without a producer id is not deduplicated (rule 1).", nameof(header));
        }

        if (!_producers.TryGetValue(header.ProducerId, out ProducerStateEntry? entry))
        {
            // Rule 7 (KIP-360): no state, any sequence.
            return new AppendCheck(AppendCheckKind.Accept);
        }

        short currentEpoch = entry.ProducerEpoch;

        // Rule 3: fenced.
        if (header.ProducerEpoch < currentEpoch)
        {
            return new AppendCheck(AppendCheckKind.InvalidProducerEpoch, CurrentEpoch: currentEpoch);
        }

        // Rule 4: a retry of one of the last 5 batches.
        if (entry.TryFindDuplicate(header.ProducerEpoch, header.BaseSequence, header.LastSequence, out BatchMetadata original))
        {
            return new AppendCheck(AppendCheckKind.Duplicate, original, CurrentEpoch: currentEpoch);
        }

        // Rule 5: a new epoch starts at sequence 0.
        if (header.ProducerEpoch > currentEpoch)
        {
            return header.BaseSequence == 0
                ? new AppendCheck(AppendCheckKind.Accept, CurrentEpoch: currentEpoch)
                : new AppendCheck(AppendCheckKind.OutOfOrderSequence, ExpectedSequence: 0, CurrentEpoch: currentEpoch);
        }

        // Rule 6: same epoch continues at last + 1 (wrapping past int.MaxValue to 0); nothing to continue: any sequence.
        if (entry.Batches.Count == 0)
        {
            return new AppendCheck(AppendCheckKind.Accept, CurrentEpoch: currentEpoch);
        }

        int expected = RecordBatchHeader.IncrementSequence(entry.LastSequence, 1);
        return header.BaseSequence == expected
            ? new AppendCheck(AppendCheckKind.Accept, CurrentEpoch: currentEpoch)
            : new AppendCheck(AppendCheckKind.OutOfOrderSequence, ExpectedSequence: expected, CurrentEpoch: currentEpoch);
    }

    /// <summary>
    /// Records a batch that is now durable at <paramref name="baseOffset"/>: sets the epoch (a newer one clears the history), appends
    /// the batch's metadata, drops the oldest beyond 5. Also used on replay, without checks.
    /// </summary>
    /// <param name="header">The batch header (PID ≥ 0).</param>
    /// <param name="baseOffset">Offset the batch was written at.</param>
    /// <remarks>
    /// The producer's <see cref="ProducerStateEntry.LastUpdated"/> becomes the clock's now, truncated to whole ms (the snapshot's
    /// precision). On replay this restarts the idle time at recovery: expiry may come later than it would have, never earlier,
    /// and a producer's clock (the batch timestamps) can never expire it early.
    /// </remarks>
    /// <exception cref="ArgumentException">The batch has no producer id.</exception>
    public void Update(in RecordBatchHeader header, long baseOffset)
    {
        if (!header.HasProducerId)
        {
            throw new ArgumentException("A batch without a producer id has no producer state.", nameof(header));
        }

        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(_timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
        var batch = new BatchMetadata(header.BaseSequence, header.LastSequence, baseOffset, baseOffset + header.LastOffsetDelta, header.MaxTimestamp);
        if (!_producers.TryGetValue(header.ProducerId, out ProducerStateEntry? entry))
        {
            entry = new ProducerStateEntry(header.ProducerId, header.ProducerEpoch, now);
            _producers.Add(header.ProducerId, entry);
        }

        entry.AddBatch(header.ProducerEpoch, batch, now);
    }

    /// <summary>Forgets producers idle longer than the expiration.</summary>
    /// <returns>How many were removed.</returns>
    /// <remarks>A producer is expired when now − <see cref="ProducerStateEntry.LastUpdated"/> ≥ the expiration, as in Kafka.</remarks>
    public int RemoveExpired()
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        int removed = 0;
        foreach ((long producerId, ProducerStateEntry entry) in _producers)
        {
            if (now - entry.LastUpdated >= _producerIdExpiration)
            {
                _producers.Remove(producerId);
                removed++;
            }
        }

        return removed;
    }

    /// <summary>
    /// Serializes the whole map: version (int16), CRC-32C (uint32) over the rest, the offset (int64), the producer count (int32) and
    /// per producer its PID, epoch, last-update time and all (up to 5) batches. Big-endian.
    /// </summary>
    /// <param name="offset">The log end offset the snapshot covers.</param>
    /// <returns>The snapshot bytes.</returns>
    /// <remarks>
    /// Exact layout, all big-endian:
    /// <c>version int16 | crc uint32 | offset int64 | producerCount int32 |</c> then per producer, in ascending PID order,
    /// <c>producerId int64 | producerEpoch int16 | lastUpdated int64 (ms since the Unix epoch) | batchCount int32 |</c> and per batch,
    /// oldest first, <c>firstSequence int32 | lastSequence int32 | firstOffset int64 | lastOffset int64 | timestamp int64 (ms)</c>.
    /// The CRC-32C (<see cref="Crc32C"/>) covers every byte after the CRC field. 18 bytes + 22 per producer + 32 per batch.
    /// </remarks>
    public byte[] CreateSnapshot(long offset)
    {
        int size = SnapshotHeaderSize;
        var producers = new ProducerStateEntry[_producers.Count];
        int i = 0;
        foreach (ProducerStateEntry entry in _producers.Values)
        {
            producers[i++] = entry;
            size += SnapshotProducerSize + (entry.Batches.Count * SnapshotBatchSize);
        }

        Array.Sort(producers, static (a, b) => a.ProducerId.CompareTo(b.ProducerId));

        byte[] bytes = new byte[size];
        Span<byte> span = bytes;
        BinaryPrimitives.WriteInt16BigEndian(span, SnapshotVersion);
        int position = SnapshotBodyOffset;
        BinaryPrimitives.WriteInt64BigEndian(span[position..], offset);
        position += 8;
        BinaryPrimitives.WriteInt32BigEndian(span[position..], producers.Length);
        position += 4;
        foreach (ProducerStateEntry entry in producers)
        {
            BinaryPrimitives.WriteInt64BigEndian(span[position..], entry.ProducerId);
            BinaryPrimitives.WriteInt16BigEndian(span[(position + 8)..], entry.ProducerEpoch);
            BinaryPrimitives.WriteInt64BigEndian(span[(position + 10)..], entry.LastUpdated.ToUnixTimeMilliseconds());
            BinaryPrimitives.WriteInt32BigEndian(span[(position + 18)..], entry.Batches.Count);
            position += SnapshotProducerSize;
            foreach (BatchMetadata batch in entry.Batches)
            {
                BinaryPrimitives.WriteInt32BigEndian(span[position..], batch.FirstSequence);
                BinaryPrimitives.WriteInt32BigEndian(span[(position + 4)..], batch.LastSequence);
                BinaryPrimitives.WriteInt64BigEndian(span[(position + 8)..], batch.FirstOffset);
                BinaryPrimitives.WriteInt64BigEndian(span[(position + 16)..], batch.LastOffset);
                BinaryPrimitives.WriteInt64BigEndian(span[(position + 24)..], batch.Timestamp);
                position += SnapshotBatchSize;
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(span[SnapshotCrcOffset..], Crc32C.Compute(span[SnapshotBodyOffset..]));
        return bytes;
    }

    /// <summary>Replaces the map with a snapshot's content.</summary>
    /// <param name="snapshot">Bytes from <see cref="CreateSnapshot"/>.</param>
    /// <param name="offset">The log end offset the snapshot covers.</param>
    /// <returns>
    /// False (and the map unchanged) when the version is unknown, the CRC fails, the bytes are truncated or carry trailing bytes,
    /// or a field is out of range (a negative PID, epoch, sequence or offset, more than 5 batches, a PID twice).
    /// </returns>
    public bool TryLoadSnapshot(ReadOnlySpan<byte> snapshot, out long offset)
    {
        offset = -1;
        if (snapshot.Length < SnapshotHeaderSize
            || BinaryPrimitives.ReadInt16BigEndian(snapshot) != SnapshotVersion
            || BinaryPrimitives.ReadUInt32BigEndian(snapshot[SnapshotCrcOffset..]) != Crc32C.Compute(snapshot[SnapshotBodyOffset..]))
        {
            return false;
        }

        int position = SnapshotBodyOffset;
        long snapshotOffset = BinaryPrimitives.ReadInt64BigEndian(snapshot[position..]);
        int count = BinaryPrimitives.ReadInt32BigEndian(snapshot[(position + 8)..]);
        position += 12;
        if (snapshotOffset < 0 || count < 0 || count > (snapshot.Length - position) / SnapshotProducerSize)
        {
            return false;
        }

        var producers = new Dictionary<long, ProducerStateEntry>(count);
        for (int p = 0; p < count; p++)
        {
            if (snapshot.Length - position < SnapshotProducerSize)
            {
                return false;
            }

            long producerId = BinaryPrimitives.ReadInt64BigEndian(snapshot[position..]);
            short epoch = BinaryPrimitives.ReadInt16BigEndian(snapshot[(position + 8)..]);
            long lastUpdated = BinaryPrimitives.ReadInt64BigEndian(snapshot[(position + 10)..]);
            int batchCount = BinaryPrimitives.ReadInt32BigEndian(snapshot[(position + 18)..]);
            position += SnapshotProducerSize;
            if (producerId < 0 || epoch < 0 || lastUpdated is < MinUnixMilliseconds or > MaxUnixMilliseconds
                || batchCount is < 0 or > PartitionLogOptions.ProducerBatchHistory
                || snapshot.Length - position < batchCount * SnapshotBatchSize
                || producers.ContainsKey(producerId))
            {
                return false;
            }

            DateTimeOffset updated = DateTimeOffset.FromUnixTimeMilliseconds(lastUpdated);
            var entry = new ProducerStateEntry(producerId, epoch, updated);
            for (int b = 0; b < batchCount; b++)
            {
                var batch = new BatchMetadata(
                    BinaryPrimitives.ReadInt32BigEndian(snapshot[position..]),
                    BinaryPrimitives.ReadInt32BigEndian(snapshot[(position + 4)..]),
                    BinaryPrimitives.ReadInt64BigEndian(snapshot[(position + 8)..]),
                    BinaryPrimitives.ReadInt64BigEndian(snapshot[(position + 16)..]),
                    BinaryPrimitives.ReadInt64BigEndian(snapshot[(position + 24)..]));
                position += SnapshotBatchSize;
                if (batch.FirstSequence < 0 || batch.LastSequence < 0 || batch.FirstOffset < 0 || batch.LastOffset < batch.FirstOffset)
                {
                    return false;
                }

                entry.AddBatch(epoch, batch, updated);
            }

            producers.Add(producerId, entry);
        }

        if (position != snapshot.Length)
        {
            return false;
        }

        _producers = producers;
        offset = snapshotOffset;
        return true;
    }
}
