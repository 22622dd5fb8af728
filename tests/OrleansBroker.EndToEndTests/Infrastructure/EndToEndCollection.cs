namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>
/// The end-to-end tests run one class at a time: each class starts its own silo host process (<see cref="BrokerFixture"/>), and
/// round-trip timings mean more without another silo competing for the CPU.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "End to end (silo host and CLI processes)";
}
