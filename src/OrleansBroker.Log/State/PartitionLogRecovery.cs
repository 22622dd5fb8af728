namespace OrleansBroker.Log;

/// <summary>What <see cref="PartitionLog.OpenAsync"/> did to rebuild the partition (for logs, metrics and tests).</summary>
/// <param name="Store">What the store's own recovery found (offsets, segments, truncated tail).</param>
/// <param name="SnapshotOffset">Offset of the producer-state snapshot used, or -1 when none was valid (the whole log was replayed).</param>
/// <param name="SnapshotsSkipped">Snapshots refused (bad version, CRC, truncation, or an offset past the log end).</param>
/// <param name="BatchesReplayed">Batch headers read from the log after the snapshot: the cost of recovery, in batches.</param>
/// <param name="ProducerCount">Producers known after recovery.</param>
public readonly record struct PartitionLogRecovery(LogRecoveryInfo Store, long SnapshotOffset, int SnapshotsSkipped, long BatchesReplayed, int ProducerCount);
