using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansBroker.Client.Internal;

/// <summary>What a failed grain call tells about whether it ran (see ORLEANS-NOTES.md).</summary>
internal enum CallFault
{
    /// <summary>The call never reached the grain: safe to resend.</summary>
    NotExecuted,

    /// <summary>The call may have run (timeout, our own deadline, lost connection, silo going away): resend the same bytes.</summary>
    OutcomeUnknown,

    /// <summary>Not a transport fault (a bug, a disposed client): do not retry.</summary>
    Fatal,
}

/// <summary>Classifies exceptions from grain calls.</summary>
internal static class CallFaults
{
    /// <summary>
    /// Not executed: <see cref="ConnectionFailedException"/>, <see cref="GatewayTooBusyException"/>, an
    /// <see cref="OrleansException"/> "No active nodes are compatible". Outcome unknown: <see cref="TimeoutException"/>,
    /// <see cref="OperationCanceledException"/> (the per-call deadline or connection loss), <see cref="SiloUnavailableException"/>
    /// (it cannot be told apart from a stopping local host), any other <see cref="OrleansException"/>. Anything else is fatal.
    /// </summary>
    public static CallFault Classify(Exception exception) => exception switch
    {
        ConnectionFailedException => CallFault.NotExecuted,
        GatewayTooBusyException => CallFault.NotExecuted,
        OrleansException oe when oe.Message.Contains("No active nodes are compatible", StringComparison.Ordinal) => CallFault.NotExecuted,
        TimeoutException => CallFault.OutcomeUnknown,
        OperationCanceledException => CallFault.OutcomeUnknown,
        SiloUnavailableException => CallFault.OutcomeUnknown,
        OrleansException => CallFault.OutcomeUnknown,
        AggregateException { InnerExceptions.Count: 1 } ae => Classify(ae.InnerExceptions[0]),
        _ => CallFault.Fatal,
    };

    /// <summary>True for faults worth retrying.</summary>
    public static bool IsTransient(Exception exception) => Classify(exception) != CallFault.Fatal;

    /// <summary>Awaits a grain call with a per-call deadline and the connection-lost token.</summary>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException">The connection was lost or <paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<T> WithDeadline<T>(Task<T> call, TimeSpan timeout, TimeProvider time, IBrokerTransport transport, CancellationToken cancellationToken = default)
    {
        CancellationToken lost = transport.ConnectionLost;
        if (!cancellationToken.CanBeCanceled)
        {
            return await call.WaitAsync(timeout, time, lost).ConfigureAwait(false);
        }

        if (!lost.CanBeCanceled)
        {
            return await call.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(lost, cancellationToken);
        return await call.WaitAsync(timeout, time, linked.Token).ConfigureAwait(false);
    }

    /// <summary>Exponential backoff: <paramref name="initial"/> × 2^(attempt-1), capped at <paramref name="max"/>.</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max)
    {
        if (attempt <= 1 || initial <= TimeSpan.Zero)
        {
            return initial < max ? initial : max;
        }

        double ticks = initial.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30));
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }
}
