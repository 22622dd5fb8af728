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
    /// <summary>Creates an entry with no batches.</summary>
    /// <param name="producerId">The PID.</param>
    /// <param name="producerEpoch">Its epoch.</param>
    /// <param name="lastTimestamp">Wall-clock time of its last append (for expiry).</param>
    public ProducerStateEntry(long producerId, short producerEpoch, DateTimeOffset lastTimestamp) => throw new NotImplementedException();

    /// <summary>The PID.</summary>
    public long ProducerId => throw new NotImplementedException();

    /// <summary>The current epoch.</summary>
    public short ProducerEpoch => throw new NotImplementedException();

    /// <summary>Wall-clock time of the last append, for <see cref="PartitionLogOptions.ProducerIdExpiration"/>.</summary>
    public DateTimeOffset LastUpdated => throw new NotImplementedException();

    /// <summary>The last batches, oldest first; at most <see cref="PartitionLogOptions.ProducerBatchHistory"/>.</summary>
    public IReadOnlyList<BatchMetadata> Batches => throw new NotImplementedException();

    /// <summary>Last sequence of the newest batch, or -1 when none.</summary>
    public int LastSequence => throw new NotImplementedException();
}

/// <summary>
/// The per-partition producer-id → state map and the idempotence rules of SEMANTICS.md (rules 3–7), plus expiry and
/// snapshots (Kafka's <c>ProducerStateManager</c> with all 5 batches kept in snapshots). Not thread-safe: one partition grain turn at a time.
/// </summary>
public sealed class ProducerStateManager
{
    /// <summary>Snapshot format version written by <see cref="CreateSnapshot"/>.</summary>
    public const short SnapshotVersion = 1;

    /// <summary>Creates an empty map.</summary>
    /// <param name="producerIdExpiration">Idle time after which a producer is forgotten.</param>
    /// <param name="timeProvider">Clock for expiry.</param>
    public ProducerStateManager(TimeSpan producerIdExpiration, TimeProvider timeProvider) => throw new NotImplementedException();

    /// <summary>Producers currently remembered.</summary>
    public int ProducerCount => throw new NotImplementedException();

    /// <summary>Looks up one producer.</summary>
    /// <param name="producerId">The PID.</param>
    /// <param name="entry">Its state.</param>
    /// <returns>False when the PID is unknown (new or expired).</returns>
    public bool TryGetEntry(long producerId, out ProducerStateEntry entry) => throw new NotImplementedException();

    /// <summary>
    /// Applies rules 3–7 to a batch from an idempotent producer (PID ≥ 0) without changing anything: fenced epoch,
    /// duplicate of one of the last 5 batches (same epoch, same first and last sequence), new epoch must start at 0,
    /// same epoch must continue at last + 1 (with wrap), unknown producer accepts any sequence.
    /// </summary>
    /// <param name="header">The batch header.</param>
    /// <returns>The decision.</returns>
    public AppendCheck CheckAppend(in RecordBatchHeader header) => throw new NotImplementedException();

    /// <summary>
    /// Records a batch that is now durable at <paramref name="baseOffset"/>: sets the epoch (a newer one clears the history), appends
    /// the batch's metadata, drops the oldest beyond 5. Also used on replay, without checks.
    /// </summary>
    /// <param name="header">The batch header (PID ≥ 0).</param>
    /// <param name="baseOffset">Offset the batch was written at.</param>
    public void Update(in RecordBatchHeader header, long baseOffset) => throw new NotImplementedException();

    /// <summary>Forgets producers idle longer than the expiration.</summary>
    /// <returns>How many were removed.</returns>
    public int RemoveExpired() => throw new NotImplementedException();

    /// <summary>
    /// Serializes the whole map: version (int16), CRC-32C (uint32) over the rest, the offset (int64), the producer count (int32) and
    /// per producer its PID, epoch, last-update time and all (up to 5) batches. Big-endian.
    /// </summary>
    /// <param name="offset">The log end offset the snapshot covers.</param>
    /// <returns>The snapshot bytes.</returns>
    public byte[] CreateSnapshot(long offset) => throw new NotImplementedException();

    /// <summary>Replaces the map with a snapshot's content.</summary>
    /// <param name="snapshot">Bytes from <see cref="CreateSnapshot"/>.</param>
    /// <param name="offset">The log end offset the snapshot covers.</param>
    /// <returns>False (and the map unchanged) when the version is unknown, the CRC fails or the bytes are truncated.</returns>
    public bool TryLoadSnapshot(ReadOnlySpan<byte> snapshot, out long offset) => throw new NotImplementedException();
}
