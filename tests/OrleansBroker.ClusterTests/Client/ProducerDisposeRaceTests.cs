using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Client;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>
/// Regression (found in review): a record handed over while DisposeAsync runs. Validate checked that the producer was not disposed, the
/// buffer reservation succeeded, then DisposeAsync ran before Enqueue took the lock: the record was accepted, routed to a partition
/// that never sends again, and never reported (the caller waited forever). In production the window is a producer blocked on a
/// full buffer that is granted space by the flush DisposeAsync waits for. Here the producing thread is held in the one user
/// callback between the reservation and the lock: the TimeProvider's GetUtcNow at the top of Enqueue.
/// </summary>
public sealed class ProducerDisposeRaceTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Produce_ReservedBeforeDisposeEnqueuedAfter_RefusedWithObjectDisposedNothingPending()
    {
        var broker = new FakeBroker();
        broker.AddTopic("t", 1);
        var time = new BlockingTimeProvider(new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var producer = new Producer(broker, new ProducerOptions { LingerMs = 0, TimeProvider = time, RetryBackoff = TimeSpan.Zero }, null, new Random(7));

        var reported = new TaskCompletionSource<DeliveryReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task produce = Task.Run(() =>
        {
            BlockingTimeProvider.BlockNextCallOnThisThread = true;
            producer.Produce("t", Message.FromStrings(null, "late"), r => reported.TrySetResult(r));
        });

        await time.Reached.Task.WaitAsync(Guard); // past Validate and the reservation, inside Enqueue's GetUtcNow
        await producer.DisposeAsync().AsTask().WaitAsync(Guard); // nothing pending yet: closes at once
        time.Gate.SetResult();

        Exception? thrown = await Record.ExceptionAsync(() => produce.WaitAsync(Guard));

        // Refused as Validate would have refused it (the producer was disposed), nothing left pending, nothing sent.
        Assert.IsType<ObjectDisposedException>(thrown);
        Assert.Equal(0, producer.PendingCount);
        Assert.Empty(broker.ProduceCalls);
        Assert.False(reported.Task.IsCompleted);
    }

    private sealed class BlockingTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        [ThreadStatic]
        public static bool BlockNextCallOnThisThread;

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override DateTimeOffset GetUtcNow()
        {
            if (BlockNextCallOnThisThread)
            {
                BlockNextCallOnThisThread = false;
                Reached.TrySetResult();
                Gate.Task.Wait();
            }

            return inner.GetUtcNow();
        }

        public override long GetTimestamp() => inner.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(callback, state, dueTime, period);
    }
}
