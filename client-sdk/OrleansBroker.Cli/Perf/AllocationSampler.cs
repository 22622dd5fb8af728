using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace OrleansBroker.Cli.Perf;

/// <summary>
/// Which types this process allocates, from the runtime's own sampling: the GCAllocationTick event fires about every 100 KB allocated
/// and names the type that crossed the threshold, so the bytes attributed per type approximate where allocations go. Turned on with
/// the environment variable <c>OBROKER_PERF_ALLOCATIONS=1</c>; the report goes to stderr. For profiling, not for production.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private const int AllocationTickEventId = 10;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _enabled;

    /// <summary>Starts sampling when <c>OBROKER_PERF_ALLOCATIONS=1</c>; otherwise <c>null</c>.</summary>
    public static AllocationSampler? StartIfRequested() =>
        Environment.GetEnvironmentVariable("OBROKER_PERF_ALLOCATIONS") == "1" ? new AllocationSampler() : null;

    /// <summary>The top types by sampled bytes, one per line.</summary>
    public string Report(int top = 15)
    {
        _enabled = false;
        long total = _bytes.Values.Sum();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"allocation samples: {total / (1024.0 * 1024):F0} MiB attributed");
        foreach ((string type, long bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(top))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {bytes * 100.0 / Math.Max(1, total),5:F1}%  {bytes / (1024.0 * 1024),8:F1} MiB  {type}");
        }

        return text.ToString();
    }

    /// <inheritdoc />
    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        ArgumentNullException.ThrowIfNull(eventSource);
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            _enabled = true;
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    /// <inheritdoc />
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        if (!_enabled || eventData.EventId != AllocationTickEventId || eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        int typeAt = eventData.PayloadNames.IndexOf("TypeName");
        int amountAt = eventData.PayloadNames.IndexOf("AllocationAmount64");
        if (typeAt < 0 || amountAt < 0)
        {
            return;
        }

        string type = eventData.Payload[typeAt] as string ?? "?";
        long amount = Convert.ToInt64(eventData.Payload[amountAt], CultureInfo.InvariantCulture);
        _bytes.AddOrUpdate(type, amount, (_, old) => old + amount);
    }
}
