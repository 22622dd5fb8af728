using System.Collections.Concurrent;
using OrleansBroker.Log.Tests.Storage;

namespace OrleansBroker.Log.Tests.TestDoubles;

/// <summary>Runs the <see cref="ILogStore"/> contract against the in-memory double, so the producer-state tests stand on a faithful store.</summary>
public sealed class MemoryLogStoreContractTests : LogStoreContractTests
{
    private readonly ConcurrentDictionary<string, MemoryDisk> _disks = new();

    protected override ILogStore CreateStore(string directory, PartitionLogOptions options) =>
        new MemoryLogStore(_disks.GetOrAdd(directory, _ => new MemoryDisk()), options.SegmentBytes);
}
