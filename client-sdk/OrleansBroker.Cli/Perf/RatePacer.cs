namespace OrleansBroker.Cli.Perf;

/// <summary>
/// Paces a sender to a target rate without a sleep per record: a token bucket that refills continuously at
/// <c>ratePerSecond</c> and hands out chunks of about 1 ms of records. The sender asks for a chunk, sends it, and asks again; when it is
/// ahead of schedule it awaits a timer on the <see cref="TimeProvider"/> until the chunk is due. A sender that falls behind catches up
/// by at most 5 ms of records (the bucket's depth); a longer stall is forgiven rather than turned into a burst.
/// </summary>
internal sealed class RatePacer
{
    private static readonly TimeSpan MaxLag = TimeSpan.FromMilliseconds(5);

    private readonly double _ratePerSecond;
    private readonly TimeProvider _time;
    private readonly long _chunk;
    private long _origin;
    private long _granted;

    /// <param name="ratePerSecond">Target records per second; positive.</param>
    /// <param name="time">Clock (tests pass a fake one).</param>
    public RatePacer(double ratePerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentNullException.ThrowIfNull(time);
        _ratePerSecond = ratePerSecond;
        _time = time;
        _chunk = Math.Max(1, (long)(ratePerSecond / 1000));
        _origin = time.GetTimestamp();
    }

    /// <summary>Records per chunk.</summary>
    public long Chunk => _chunk;

    /// <summary>Waits until the next chunk of <see cref="Chunk"/> records may be sent.</summary>
    public async ValueTask WaitForChunkAsync(CancellationToken cancellationToken)
    {
        TimeSpan due = TimeSpan.FromSeconds(_granted / _ratePerSecond);
        TimeSpan elapsed = _time.GetElapsedTime(_origin);
        TimeSpan ahead = due - elapsed;
        if (ahead > TimeSpan.Zero)
        {
            await Task.Delay(ahead, _time, cancellationToken).ConfigureAwait(false);
        }
        else if (-ahead > MaxLag)
        {
            // Behind by more than MaxLag (a stall): forgive the excess instead of bursting to catch up.
            _origin += (long)((-ahead - MaxLag).TotalSeconds * _time.TimestampFrequency);
        }

        _granted += _chunk;
    }
}
