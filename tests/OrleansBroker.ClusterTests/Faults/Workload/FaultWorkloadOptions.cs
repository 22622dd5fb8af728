namespace OrleansBroker.ClusterTests.Faults.Workload;

/// <summary>The shape of one <see cref="FaultWorkload"/> run.</summary>
public sealed record FaultWorkloadOptions
{
    /// <summary>Producers (SDK instances, idempotence on, each with a stable producer identity). Default 3.</summary>
    public int Producers { get; init; } = 3;

    /// <summary>Partitions of the run's topic. Default 4.</summary>
    public int Partitions { get; init; } = 4;

    /// <summary>Records each producer sends (ignored when <see cref="Duration"/> is set). Default 300.</summary>
    public int RecordsPerProducer { get; init; } = 300;

    /// <summary>When set, producers send until this much time has passed (soak mode) and events are placed in time, not by record count.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Bytes of each record value (holds the record id; see <c>RecordIdCodec</c>). Default 48.</summary>
    public int RecordBytes { get; init; } = 48;

    /// <summary>Records a producer may have unacknowledged before it waits (keeps every partition busy with up to 5 batches in flight). Default 60.</summary>
    public int InFlightRecordsPerProducer { get; init; } = 60;

    /// <summary>Seed of the fault schedule and of every probabilistic rule.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>The fault kinds the schedule may use. Default: all of them.</summary>
    public IReadOnlyList<FaultKind> Faults { get; init; } = FaultKinds.All;

    /// <summary>Probability with which a continuous fault hits a produce call. Default 0.05.</summary>
    public double FaultRate { get; init; } = 0.05;

    /// <summary>Discrete fault events placed on the run (spread evenly between 10% and 85% of it, with seeded jitter). Default: one per
    /// discrete kind enabled.</summary>
    public int? Events { get; init; }

    /// <summary>Batch size of the producers, in bytes; small so one run makes many batches. Default 2048.</summary>
    public int BatchSize { get; init; } = 2048;

    /// <summary>Per-call deadline of the producers (their <c>request.timeout.ms</c>): bounds the wait for a call lost with a killed silo. Default 5 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Delivery timeout of the producers: long enough that no fault makes a record fail for good. Default 90 s.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Longest a reorder delay holds a call in the client. Default 40 ms.</summary>
    public TimeSpan MaxReorderDelay { get; init; } = TimeSpan.FromMilliseconds(40);

    /// <summary>Silos to keep: after a kill or stop a fresh silo is started so the cluster is back to this many. Default 3.</summary>
    public int Silos { get; init; } = 3;

    /// <summary>Total records of a count-bounded run.</summary>
    public long TotalRecords => (long)Producers * RecordsPerProducer;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Producers < 1 || Partitions < 1 || RecordsPerProducer < 1 || InFlightRecordsPerProducer < 1 || Silos < 2)
        {
            throw new ArgumentException("Producers, Partitions, RecordsPerProducer and InFlightRecordsPerProducer must be at least 1, Silos at least 2.");
        }

        if (FaultRate is < 0 or > 1)
        {
            throw new ArgumentException($"FaultRate must be in [0, 1]; it is {FaultRate}.");
        }

        if (Duration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentException("Duration must be positive.");
        }
    }
}
