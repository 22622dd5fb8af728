namespace OrleansBroker.Log.Tests.Storage;

/// <summary>Runs the <see cref="ILogStore"/> contract against <see cref="FileLogStore"/> in a temporary directory.</summary>
public sealed class FileLogStoreContractTests : LogStoreContractTests
{
    protected override ILogStore CreateStore(string directory, PartitionLogOptions options) =>
        new FileLogStore(directory, options, TimeProvider.System);
}
