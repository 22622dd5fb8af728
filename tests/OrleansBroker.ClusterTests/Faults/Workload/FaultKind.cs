namespace OrleansBroker.ClusterTests.Faults.Workload;

/// <summary>The faults <see cref="FaultWorkload"/> can inject. Continuous kinds act on a fraction of calls for the whole run; the others
/// are discrete events placed on the run by <see cref="FaultSchedule"/>.</summary>
public enum FaultKind
{
    /// <summary>Continuous: a produce call runs, then its reply is lost (the caller gets a <see cref="TimeoutException"/>).</summary>
    LostReply,

    /// <summary>Continuous: a produce call never reaches the grain (the caller gets an Orleans "not executed" failure).</summary>
    FailBeforeInvoke,

    /// <summary>Continuous: a produce request is delivered to the grain a second time after it ran.</summary>
    DuplicateDelivery,

    /// <summary>Continuous: a produce call is delayed in the client before it leaves, so later batches of the same partition overtake it
    /// (the SDK keeps 5 in flight).</summary>
    ReorderDelay,

    /// <summary>Event: a secondary silo hosting partitions of the topic is killed abruptly (no deactivation; its file handles are released as
    /// by process death); a fresh silo joins afterwards.</summary>
    SiloKill,

    /// <summary>Event: a secondary silo hosting partitions of the topic is stopped gracefully; a fresh silo joins afterwards.</summary>
    SiloStop,

    /// <summary>Event: a produce call is stalled at the partition, before it reaches the log, until the SDK timed it out and sent it again,
    /// then it runs: a call that timed out but still ran. Whichever of the two reaches the log first writes the batch; the other is answered
    /// as a duplicate.</summary>
    StalledCall,

    /// <summary>Event: a partition grain is deactivated mid-stream.</summary>
    Deactivation,

    /// <summary>Event: the next appends of a partition fail before writing (transient I/O error).</summary>
    StorageFailBeforeWrite,

    /// <summary>Event: the next append of a partition is written, then fails (storage acknowledgement lost).</summary>
    StorageFailAfterWrite,

    /// <summary>Event: the partition is deactivated, the test takes its writer lock and leaves a torn, never-acknowledged batch prefix at the
    /// end of the active segment (as a write cut by a crash), then releases the lock; the next activation's recovery must truncate it.</summary>
    TornTail,

    /// <summary>Event: a partition's disk is full for a while (every append fails, the first leaves a torn prefix); then space is freed.</summary>
    DiskFull,

    /// <summary>Event: a producer process "restarts": a new SDK instance with the same stable producer identity takes over while the old one
    /// still has batches in flight (the old one is fenced by the epoch bump).</summary>
    ProducerRestart,
}

/// <summary>Classification of <see cref="FaultKind"/>.</summary>
public static class FaultKinds
{
    /// <summary>Every kind.</summary>
    public static IReadOnlyList<FaultKind> All { get; } = Enum.GetValues<FaultKind>();

    /// <summary>True for the kinds that act on a fraction of calls during the whole run.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>Whether it is continuous.</returns>
    public static bool IsContinuous(this FaultKind kind) =>
        kind is FaultKind.LostReply or FaultKind.FailBeforeInvoke or FaultKind.DuplicateDelivery or FaultKind.ReorderDelay;
}
