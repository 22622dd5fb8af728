using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;
using Orleans.TestingHost;
using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>One record batch as stored in a partition, with its decoded records.</summary>
/// <param name="Header">The stored header (base offset, producer id, epoch, base sequence, record count).</param>
/// <param name="Records">The records, with absolute offsets.</param>
public sealed record StoredBatch(RecordBatchHeader Header, IReadOnlyList<OrleansBroker.Protocol.Record> Records)
{
    /// <summary>The record values as UTF-8 strings (null for a null value).</summary>
    public IReadOnlyList<string?> Values => [.. Records.Select(r => r.Value is { } v ? Encoding.UTF8.GetString(v.Span) : null)];
}

/// <summary>Cluster operations the fault scenarios need: where a grain runs, placing it, deactivating it, killing a silo, reading a log.</summary>
public static class ClusterOps
{
    /// <summary>The silo hosting the current activation of <paramref name="grain"/>, or null when it is not active anywhere.</summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="grain">The grain.</param>
    /// <returns>The silo address.</returns>
    public static SiloAddress? FindHostingSilo(this TestCluster cluster, IAddressable grain)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return cluster.TryGetGrainContext(grain.GetGrainId(), out IGrainContext? context) ? context.Address.SiloAddress : null;
    }

    /// <summary>
    /// Makes the partition grain active on <paramref name="target"/>: a first activation is placed there with Orleans' placement hint;
    /// an activation elsewhere is migrated (its log is checkpointed and closed, then reopened on the target).
    /// </summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="partition">The partition grain.</param>
    /// <param name="target">The silo to host it.</param>
    /// <returns>A task that completes when the grain answers from <paramref name="target"/>.</returns>
    /// <exception cref="InvalidOperationException">It could not be placed there.</exception>
    public static async Task PlaceOnAsync(this TestCluster cluster, IPartitionGrain partition, SiloAddress target)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(partition);
        SiloAddress? host = cluster.FindHostingSilo(partition);
        if (host is null)
        {
            RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
            try
            {
                await Wait.ForAsync(partition.ListOffsetsAsync(), Wait.Phase, $"first activation of {partition.GetGrainId()} on {target}");
            }
            finally
            {
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }

            host = cluster.FindHostingSilo(partition);
        }

        if (host is not null && !host.Equals(target))
        {
            await Wait.ForAsync(cluster.MigrateAsync(partition, target), Wait.Phase, $"migration of {partition.GetGrainId()} from {host} to {target}");
            await Wait.ForAsync(partition.ListOffsetsAsync(), Wait.Phase, $"activation of {partition.GetGrainId()} after migrating to {target}");
            host = cluster.FindHostingSilo(partition);
        }

        if (host is null || !host.Equals(target))
        {
            throw new InvalidOperationException($"{partition.GetGrainId()} runs on {host?.ToString() ?? "no silo"}, not on {target}.");
        }
    }

    /// <summary>Deactivates the grain's current activation (its <c>OnDeactivateAsync</c> runs) and waits for it, bounded.</summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="grain">The grain.</param>
    /// <returns>A task that completes when the activation is gone.</returns>
    public static Task ForceDeactivateAsync(this TestCluster cluster, IAddressable grain)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return Wait.ForAsync(cluster.DeactivateAsync(grain), Wait.Phase, $"deactivation of {grain.GetGrainId()}");
    }

    /// <summary>
    /// Kills a secondary silo the way a process dies. First, unless <paramref name="crashStores"/> is false, the silo's partition stores
    /// are crashed (<see cref="StorageFaults.CrashStoresOfSiloAsync"/>: handles and writer locks released, nothing written afterwards);
    /// then <c>TestCluster.KillSiloAsync</c> stops the silo; then this waits until the surviving silos declared it dead.
    /// </summary>
    /// <remarks>
    /// The store crash comes first because <c>TestCluster.KillSiloAsync</c> alone is not a crash on Orleans 10.4.2: the in-process silo still
    /// deactivates its grains, so the partition checkpoints (producer-state snapshot) and releases its lock, which a dying process would
    /// never do (see <c>SiloCrashTests</c>). Crashing the stores first makes that shutdown path write nothing.
    /// </remarks>
    /// <param name="fixture">The fixture.</param>
    /// <param name="silo">A secondary silo (the primary hosts test membership and must stay up).</param>
    /// <param name="crashStores">False for a plain <c>TestCluster.KillSiloAsync</c>.</param>
    /// <returns>How many stores were crashed.</returns>
    public static async Task<int> KillSiloAsync(this FaultClusterFixture fixture, SiloAddress silo, bool crashStores = true)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        TestCluster cluster = fixture.Cluster;
        SiloHandle handle = cluster.GetSiloForAddress(silo) ?? throw new InvalidOperationException($"Silo {silo} is not part of the cluster.");
        if (ReferenceEquals(handle, cluster.Primary))
        {
            throw new InvalidOperationException($"Silo {silo} is the primary silo, which hosts the test cluster's membership; kill a secondary one.");
        }

        int crashed = crashStores ? await fixture.Faults.Storage.CrashStoresOfSiloAsync(silo) : 0;
        await Wait.ForAsync(cluster.KillSiloAsync(handle), Wait.Phase, $"kill of silo {silo}");
        await WaitUntilDeclaredDeadAsync(cluster, silo, TimeSpan.FromSeconds(8));
        return crashed;
    }

    /// <summary>
    /// Waits until every other active silo's membership view has <paramref name="silo"/> as dead (polls the silos' own
    /// <see cref="IClusterMembershipService"/>: Orleans raises no event a test can await). No grain call: a management grain call may
    /// be routed to the dead silo and then waits the whole 30 s response timeout.
    /// </summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="silo">The dead silo.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <returns>A task that completes when it is declared dead.</returns>
    public static Task WaitUntilDeclaredDeadAsync(this TestCluster cluster, SiloAddress silo, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return Wait.UntilAsync(
            () => Task.FromResult(cluster.GetActiveSilos()
                .Where(s => !s.SiloAddress.Equals(silo))
                .All(s => cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<IClusterMembershipService>().CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead)),
            timeout,
            $"membership to declare silo {silo} dead",
            TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Reads a whole partition through <see cref="IPartitionGrain.FetchAsync"/>, batch by batch.</summary>
    /// <param name="partition">The partition grain.</param>
    /// <returns>Every stored batch in offset order.</returns>
    /// <exception cref="InvalidOperationException">A fetch failed.</exception>
    public static async Task<IReadOnlyList<StoredBatch>> ReadLogAsync(this IPartitionGrain partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        var batches = new List<StoredBatch>();
        long offset = 0;
        while (true)
        {
            FetchResult fetch = await Wait.ForAsync(partition.FetchAsync(offset, 1 << 20), Wait.Phase, $"fetch at offset {offset} from {partition.GetGrainId()}");
            if (fetch.Error != ErrorCode.None)
            {
                throw new InvalidOperationException($"Fetch at offset {offset} from {partition.GetGrainId()} failed: {fetch.Error}.");
            }

            bool progressed = false;
            foreach ((RecordBatchHeader header, ReadOnlyMemory<byte> bytes) in RecordBatchReader.ReadBatches(fetch.Records))
            {
                if (header.LastOffset < offset)
                {
                    continue;
                }

                if (RecordBatch.Validate(bytes.Span, int.MaxValue, out _) != BatchFormatError.None)
                {
                    throw new InvalidOperationException($"The batch at offset {header.BaseOffset} of {partition.GetGrainId()} fails validation (CRC or format).");
                }

                batches.Add(new StoredBatch(header, RecordBatchReader.ReadRecords(bytes)));
                offset = header.LastOffset + 1;
                progressed = true;
            }

            if (!progressed || offset >= fetch.HighWatermark)
            {
                return batches;
            }
        }
    }
}
