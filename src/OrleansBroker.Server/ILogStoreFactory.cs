using OrleansBroker.Log;

namespace OrleansBroker.Server;

/// <summary>
/// Creates the <see cref="ILogStore"/> of one topic partition. The default is <see cref="FileLogStoreFactory"/>; register another
/// implementation (for example Azure Blob storage) after <c>AddOrleansBroker</c> to replace it.
/// </summary>
public interface ILogStoreFactory
{
    /// <summary>Creates (does not open) the store of partition <paramref name="partition"/> of <paramref name="topic"/>.</summary>
    /// <param name="topic">A topic name that passed <see cref="OrleansBroker.Protocol.TopicName.IsValid"/>.</param>
    /// <param name="partition">The partition number, 0 or more.</param>
    /// <param name="options">The partition's log settings.</param>
    /// <returns>A store not yet opened; the caller opens and owns it.</returns>
    /// <exception cref="ArgumentException">The topic name is not legal or the partition is negative.</exception>
    ILogStore Create(string topic, int partition, PartitionLogOptions options);
}
