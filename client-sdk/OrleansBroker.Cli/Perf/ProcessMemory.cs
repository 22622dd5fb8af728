using System.Globalization;

namespace OrleansBroker.Cli.Perf;

/// <summary>Reads a process's resident memory from Linux's <c>/proc/PID/status</c> (VmRSS, VmHWM); elsewhere every read is <c>null</c>.</summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set size in bytes (VmRSS), or <c>null</c> when it cannot be read.</summary>
    public static long? ReadRss(int pid) => ReadStatusField(pid, "VmRSS:");

    /// <summary>Peak resident set size in bytes (VmHWM) since the process started or since <see cref="TryResetPeak"/>, or <c>null</c>.</summary>
    public static long? ReadPeak(int pid) => ReadStatusField(pid, "VmHWM:");

    /// <summary>Resets VmHWM to the current RSS (writes 5 to <c>/proc/PID/clear_refs</c>; needs the same user or root).</summary>
    /// <returns>True when the peak now counts from this moment.</returns>
    public static bool TryResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    private static long? ReadStatusField(int pid, string field)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    // "VmRSS:	  123456 kB"
                    string value = line[field.Length..].Trim();
                    int unit = value.IndexOf(' ', StringComparison.Ordinal);
                    return long.Parse(unit < 0 ? value : value[..unit], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }

        return null;
    }
}

/// <summary>Samples a process's RSS on a timer and keeps the peak and the samples (for "memory stays flat" checks).</summary>
internal sealed class RssSampler : IAsyncDisposable
{
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<(TimeSpan At, long Rss)> _samples = [];
    private readonly Lock _sync = new();
    private readonly long _started;
    private readonly TimeProvider _time;

    /// <param name="pid">Process to sample.</param>
    /// <param name="interval">Sampling period.</param>
    /// <param name="time">Clock.</param>
    public RssSampler(int pid, TimeSpan interval, TimeProvider time)
    {
        _pid = pid;
        _time = time;
        _started = time.GetTimestamp();
        PeakWasReset = ProcessMemory.TryResetPeak(pid);
        Sample();
        _loop = RunAsync(interval);
    }

    /// <summary>True when VmHWM was reset at the start, so <see cref="ReadPeak"/> covers only the sampled period.</summary>
    public bool PeakWasReset { get; }

    /// <summary>The highest RSS seen by sampling, in bytes; 0 when nothing could be read.</summary>
    public long SampledPeak
    {
        get
        {
            lock (_sync)
            {
                return _samples.Count == 0 ? 0 : _samples.Max(s => s.Rss);
            }
        }
    }

    /// <summary>The samples so far: time since start, RSS in bytes.</summary>
    public IReadOnlyList<(TimeSpan At, long Rss)> Samples
    {
        get
        {
            lock (_sync)
            {
                return [.. _samples];
            }
        }
    }

    /// <summary>VmHWM now (peak since the reset, or since the process started when the reset failed), or <c>null</c>.</summary>
    public long? ReadPeak() => ProcessMemory.ReadPeak(_pid);

    /// <summary>Takes one sample now.</summary>
    public void Sample()
    {
        if (ProcessMemory.ReadRss(_pid) is long rss)
        {
            lock (_sync)
            {
                _samples.Add((_time.GetElapsedTime(_started), rss));
            }
        }
    }

    /// <summary>Stops sampling (after a last sample).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Sample();
        _stop.Dispose();
    }

    private async Task RunAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, _time);
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            Sample();
        }
    }
}
