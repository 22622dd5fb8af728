using Microsoft.Extensions.Time.Testing;

namespace OrleansBroker.ClusterTests.Client;

/// <summary>
/// A <see cref="FakeTimeProvider"/> wrapper that reports every timer created, so a test can advance the clock only after
/// the code under test has armed the timer it wants to fire (e.g. a per-call deadline).
/// </summary>
internal sealed class ObservableTimeProvider(FakeTimeProvider inner) : TimeProvider
{
    private readonly Lock _sync = new();
    private readonly List<(TimeSpan Due, TaskCompletionSource Signal)> _waiters = [];
    private readonly List<TimeSpan> _created = [];

    public FakeTimeProvider Fake { get; } = inner;

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = Fake.CreateTimer(callback, state, dueTime, period);
        lock (_sync)
        {
            _created.Add(dueTime);
            foreach ((TimeSpan due, TaskCompletionSource signal) in _waiters)
            {
                if (due == dueTime)
                {
                    signal.TrySetResult();
                }
            }
        }

        return timer;
    }

    /// <summary>Completes when a timer with exactly this due time has been created (also if it already was).</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime)
    {
        lock (_sync)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_created.Contains(dueTime))
            {
                signal.SetResult();
            }
            else
            {
                _waiters.Add((dueTime, signal));
            }

            return signal.Task;
        }
    }
}
