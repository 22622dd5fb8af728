using OrleansBroker.Server.Grains;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// A positive control for <see cref="CallJournal"/>: a grain whose method calls another grain inside its turn, so a test can show that
/// the journal does attribute such a call to the turn (and that an empty <see cref="CallJournal.CallsDuring"/> therefore means something).
/// </summary>
[Alias("OrleansBroker.ClusterTests.IJournalProbeGrain")]
public interface IJournalProbeGrain : IGrainWithGuidKey
{
    /// <summary>Describes a topic through the topic catalog grain, inside this grain's turn.</summary>
    /// <param name="topic">Topic name.</param>
    /// <returns>The catalog's error code.</returns>
    [Alias("DescribeThroughCatalog")]
    Task<ErrorCode> DescribeThroughCatalogAsync(string topic);
}

/// <summary>The <see cref="IJournalProbeGrain"/> implementation.</summary>
internal sealed class JournalProbeGrain : Grain, IJournalProbeGrain
{
    public async Task<ErrorCode> DescribeThroughCatalogAsync(string topic) =>
        (await GrainFactory.GetGrain<ITopicCatalogGrain>(TopicCatalogGrain.Key).DescribeTopicAsync(topic)).Error;
}
