using OrleansBroker.Client;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>
/// Closes the producers of a test on a fake clock, after the test, within a real-time limit. A producer on a clock that is not
/// advanced never reaches a delivery timeout, so <c>await using</c> (a close without a limit) waits forever for a record the test
/// left held or unanswered when it failed; the test host then hangs with nothing but the collected await chain to show for it.
/// Here the flush gets <see cref="Limit"/> of real time, then the producer is closed with <see cref="Producer.CloseAsync"/> at once,
/// and a producer that was still waiting fails the test with what it waited for.
/// </summary>
internal sealed class ProducerCleanup : IAsyncDisposable
{
    private readonly List<Producer> _producers = [];

    /// <summary>Creates the cleanup.</summary>
    /// <param name="limit">Real time each producer gets to report its pending records after the test; default 10 s.</param>
    public ProducerCleanup(TimeSpan? limit = null)
    {
        Limit = limit ?? TimeSpan.FromSeconds(10);
    }

    /// <summary>Real time a producer gets to report its pending records after the test.</summary>
    public TimeSpan Limit { get; }

    /// <summary>Registers a producer to be closed after the test.</summary>
    /// <param name="producer">The producer.</param>
    /// <returns><paramref name="producer"/>.</returns>
    public Producer Track(Producer producer)
    {
        lock (_producers)
        {
            _producers.Add(producer);
        }

        return producer;
    }

    /// <summary>Flushes each producer for at most <see cref="Limit"/>, then closes it; throws if one still had records pending.</summary>
    /// <returns>A task that completes when every producer is closed.</returns>
    /// <exception cref="TimeoutException">A producer did not report its records within the limit (they were failed by the close).</exception>
    public async Task CloseAllAsync()
    {
        Producer[] producers;
        lock (_producers)
        {
            producers = [.. _producers];
            _producers.Clear();
        }

        var stuck = new List<string>();
        foreach (Producer producer in producers)
        {
            using var limit = new CancellationTokenSource(Limit);
            long pending = 0;
            try
            {
                await producer.FlushAsync(limit.Token);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                pending = producer.PendingCount;
            }

            await producer.CloseAsync(TimeSpan.Zero);
            if (pending > 0)
            {
                stuck.Add($"{pending} records pending");
            }
        }

        if (stuck.Count > 0)
        {
            throw new TimeoutException($"After the test, a producer did not report its records within {Limit.TotalMilliseconds} ms ({string.Join("; ", stuck)}); they were failed by CloseAsync.");
        }
    }

    /// <summary>Same as <see cref="CloseAllAsync"/>, for <c>await using</c> in a test method.</summary>
    /// <returns>A task that completes when every producer is closed.</returns>
    public async ValueTask DisposeAsync() => await CloseAllAsync();
}
