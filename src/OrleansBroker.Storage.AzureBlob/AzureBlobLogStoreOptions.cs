namespace OrleansBroker.Storage.AzureBlob;

/// <summary>Azure-specific settings of <see cref="AzureBlobLogStore"/>; the log's own settings stay in <c>PartitionLogOptions</c>.</summary>
public sealed record AzureBlobLogStoreOptions
{
    /// <summary>Largest block one Append Block call takes, in bytes (4 MiB = 4,194,304, the limit of Azurite and of older service versions).</summary>
    public const int MaxAppendBlockBytes = 4 * 1024 * 1024;

    /// <summary>Most blocks an append blob holds (an Azure Storage limit).</summary>
    public const int MaxBlocksPerAppendBlob = 50_000;

    /// <summary>Default <see cref="ReadChunkBytes"/>: 1 MiB.</summary>
    public const int DefaultReadChunkBytes = 1 << 20;

    /// <summary>Shortest finite blob lease Azure Storage grants: 15 s.</summary>
    public static readonly TimeSpan MinLeaseDuration = TimeSpan.FromSeconds(15);

    /// <summary>Longest finite blob lease Azure Storage grants: 60 s.</summary>
    public static readonly TimeSpan MaxLeaseDuration = TimeSpan.FromSeconds(60);

    /// <summary>Default <see cref="LeaseDuration"/>: 15 s, so a killed writer's partition can be opened elsewhere after at most 15 s.</summary>
    public static readonly TimeSpan DefaultLeaseDuration = MinLeaseDuration;

    /// <summary>The defaults.</summary>
    public static AzureBlobLogStoreOptions Default { get; } = new();

    /// <summary>
    /// Duration of the writer lease on the partition's <c>.writer</c> blob: 15 to 60 s, renewed every <see cref="LeaseRenewInterval"/>
    /// while the store is open; or <see cref="Timeout.InfiniteTimeSpan"/> for a lease that never expires (then a writer that dies
    /// without disposing blocks the partition until someone breaks the lease by hand).
    /// </summary>
    public TimeSpan LeaseDuration { get; init; } = DefaultLeaseDuration;

    /// <summary>How often the lease is renewed; <c>null</c>: a third of <see cref="LeaseDuration"/>. Must be shorter than the lease.</summary>
    public TimeSpan? LeaseRenewInterval { get; init; }

    /// <summary>
    /// Bytes fetched per ranged download when walking batches (recovery scan, header walks, index rebuilds). Default 1 MiB; at least 4,096.
    /// Reads size their requests from their <c>maxBytes</c> instead.
    /// </summary>
    public int ReadChunkBytes { get; init; } = DefaultReadChunkBytes;

    /// <summary>
    /// Roll the segment when it holds this many blocks (one block per batch). Default and maximum: 50,000, the append blob's limit.
    /// Lower values only serve tests.
    /// </summary>
    public int MaxBlocksPerSegment { get; init; } = MaxBlocksPerAppendBlob;

    /// <summary>Create the container in <c>OpenAsync</c> when it is missing. Default <c>true</c>.</summary>
    public bool CreateContainerIfMissing { get; init; } = true;

    /// <summary>The renew interval in force.</summary>
    internal TimeSpan EffectiveRenewInterval => LeaseRenewInterval ?? TimeSpan.FromTicks(LeaseDuration.Ticks / 3);

    /// <summary>Reports every invalid setting at once.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names each one.</exception>
    internal void Validate()
    {
        var errors = new List<string>();
        bool infinite = LeaseDuration == Timeout.InfiniteTimeSpan;
        if (!infinite && (LeaseDuration < MinLeaseDuration || LeaseDuration > MaxLeaseDuration))
        {
            errors.Add($"LeaseDuration must be between 15 and 60 seconds or Timeout.InfiniteTimeSpan; it is {LeaseDuration}.");
        }

        if (!infinite && (EffectiveRenewInterval <= TimeSpan.Zero || EffectiveRenewInterval >= LeaseDuration))
        {
            errors.Add($"LeaseRenewInterval must be positive and shorter than LeaseDuration ({LeaseDuration}); it is {EffectiveRenewInterval}.");
        }

        if (ReadChunkBytes < 4096)
        {
            errors.Add($"ReadChunkBytes must be at least 4096; it is {ReadChunkBytes}.");
        }

        if (MaxBlocksPerSegment is < 1 or > MaxBlocksPerAppendBlob)
        {
            errors.Add($"MaxBlocksPerSegment must be between 1 and {MaxBlocksPerAppendBlob}; it is {MaxBlocksPerSegment}.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid AzureBlobLogStoreOptions: " + string.Join(" ", errors));
        }
    }
}
