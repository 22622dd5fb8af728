namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// An explicit wait point between a test and code running in a silo or the SDK: the code under test calls <see cref="PassAsync"/>,
/// which reports that it got there (<see cref="WaitReachedAsync"/>) and then waits until the test calls <see cref="Release"/>.
/// </summary>
/// <remarks>
/// A gate can be passed by several calls: each one counts as reached and all wait for the same release. Once released it stays open
/// (later calls pass straight through). Dispose-time safety: <see cref="FaultController.Reset"/> releases every gate it knows, so a
/// failing test never leaves a silo thread blocked.
/// </remarks>
public sealed class FaultGate
{
    private readonly Lock _sync = new();
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private int _reached;

    /// <summary>Creates a closed gate.</summary>
    /// <param name="name">Names the gate in timeout messages (e.g. "produce of batch seq 1 held before the partition").</param>
    public FaultGate(string name)
    {
        Name = name;
    }

    /// <summary>The gate's name, used in timeout messages.</summary>
    public string Name { get; }

    /// <summary>How many calls reached the gate so far.</summary>
    public int Reached
    {
        get
        {
            lock (_sync)
            {
                return _reached;
            }
        }
    }

    /// <summary>True once <see cref="Release"/> was called.</summary>
    public bool IsReleased => _open.Task.IsCompleted;

    /// <summary>Opens the gate: every waiting and later call passes.</summary>
    public void Release() => _open.TrySetResult();

    /// <summary>Called by the code under test: counts as reached, then waits for <see cref="Release"/>.</summary>
    /// <returns>A task that completes when the gate is open.</returns>
    public Task PassAsync()
    {
        lock (_sync)
        {
            _reached++;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _reached)
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        return _open.Task;
    }

    /// <summary>Waits until <paramref name="count"/> calls have reached the gate.</summary>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="count">Calls expected at the gate (default 1).</param>
    /// <returns>A task that completes when they have.</returns>
    /// <exception cref="TimeoutException">Fewer calls arrived in time; the message names the gate.</exception>
    public Task WaitReachedAsync(TimeSpan timeout, int count = 1)
    {
        Task signal;
        lock (_sync)
        {
            if (_reached >= count)
            {
                return Task.CompletedTask;
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, tcs));
            signal = tcs.Task;
        }

        return Wait.ForAsync(signal, timeout, $"{count} call(s) to reach gate '{Name}' (reached: {Reached})");
    }
}

/// <summary>Bounded waits whose failure message names the phase and the grain, never a bare "task timed out".</summary>
public static class Wait
{
    /// <summary>Default bound for one phase of a scenario: it turns a hang into a failure naming the phase, and is no speed assertion, so it is generous (the full suite runs its test projects side by side on 2 cores, where a phase that takes 50 ms alone has taken over 5 s).</summary>
    public static readonly TimeSpan Phase = TimeSpan.FromSeconds(20);

    /// <summary>Awaits <paramref name="task"/> for at most <paramref name="timeout"/>.</summary>
    /// <param name="task">What to wait for.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="phase">What is awaited, with the grain or partition it concerns (goes into the failure message).</param>
    /// <returns>A task that completes with <paramref name="task"/>.</returns>
    /// <exception cref="TimeoutException">The task did not complete in time.</exception>
    public static async Task ForAsync(Task task, TimeSpan timeout, string phase)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {phase}.", ex);
        }
    }

    /// <summary>Awaits <paramref name="task"/> for at most <paramref name="timeout"/> and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="task">What to wait for.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="phase">What is awaited, with the grain or partition it concerns.</param>
    /// <returns>The task's result.</returns>
    /// <exception cref="TimeoutException">The task did not complete in time.</exception>
    public static async Task<T> ForAsync<T>(Task<T> task, TimeSpan timeout, string phase)
    {
        await ForAsync((Task)task, timeout, phase);
        return await task;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds, every <paramref name="interval"/> (default 20 ms), for at most
    /// <paramref name="timeout"/>. Use only where Orleans raises no event to wait on (e.g. a membership change seen by another silo).
    /// </summary>
    /// <param name="condition">The check; may call grains.</param>
    /// <param name="timeout">Longest wait.</param>
    /// <param name="phase">What is awaited, with the grain or silo it concerns.</param>
    /// <param name="interval">Poll interval; default 20 ms.</param>
    /// <returns>A task that completes when the condition held.</returns>
    /// <exception cref="TimeoutException">The condition never held in time.</exception>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string phase, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        long start = TimeProvider.System.GetTimestamp();
        using var ticks = new PeriodicTimer(interval ?? TimeSpan.FromMilliseconds(20));
        int attempts = 0;
        while (true)
        {
            attempts++;
            if (await condition())
            {
                return;
            }

            if (TimeProvider.System.GetElapsedTime(start) >= timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalMilliseconds:0} ms ({attempts} checks) waiting for {phase}.");
            }

            await ticks.WaitForNextTickAsync();
        }
    }
}

/// <summary>Moves a client-side <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/> forward until something completes.</summary>
public static class FakeClockDriver
{
    /// <summary>
    /// Advances <paramref name="clock"/> by <paramref name="step"/> until <paramref name="until"/> completes, at most <paramref name="maxSteps"/>
    /// times. After each step it waits (at most <paramref name="settle"/>, default 250 ms, real time) for <paramref name="progress"/> to be
    /// applied once more or for <paramref name="until"/> to complete, so the code under test can react before the next step.
    /// </summary>
    /// <remarks>
    /// The code under test arms its timers when it processes a reply, which the test cannot observe; a step taken before a timer is armed
    /// only moves the timer's base, and the next step fires it. So a step without progress is not an error: the bound is
    /// <paramref name="maxSteps"/> (fake time) and <paramref name="settle"/> per step (real time).
    /// </remarks>
    /// <param name="clock">The fake clock of the code under test (e.g. <c>ProducerOptions.TimeProvider</c>).</param>
    /// <param name="until">What must complete (e.g. a delivery that must time out).</param>
    /// <param name="progress">A rule counting the calls the code under test makes on each step (e.g. the retries of a batch).</param>
    /// <param name="step">Fake time per step.</param>
    /// <param name="maxSteps">Most steps.</param>
    /// <param name="phase">What is awaited, for the failure message.</param>
    /// <param name="settle">Real-time wait per step; default 250 ms.</param>
    /// <returns>A task that completes when <paramref name="until"/> did.</returns>
    /// <exception cref="TimeoutException"><paramref name="until"/> did not complete within <paramref name="maxSteps"/> steps.</exception>
    public static async Task DriveAsync(
        Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, Task until, CallFaultRule progress, TimeSpan step, int maxSteps, string phase, TimeSpan? settle = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(until);
        ArgumentNullException.ThrowIfNull(progress);
        TimeSpan wait = settle ?? TimeSpan.FromMilliseconds(250);
        for (int i = 0; i < maxSteps && !until.IsCompleted; i++)
        {
            int before = progress.Applications;
            clock.Advance(step);
            Task next = progress.WaitForApplicationsAsync(before + 1, wait);
            await Task.WhenAny(next, until);
        }

        if (!until.IsCompleted)
        {
            throw new TimeoutException($"{phase} did not happen within {maxSteps} steps of {step.TotalMilliseconds:0} ms of fake time ({progress.Applications} applications of {progress}).");
        }
    }
}
