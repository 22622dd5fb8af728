using System.CommandLine;
using System.Globalization;
using OrleansBroker.ClusterTests.Faults.Workload;

namespace OrleansBroker.Soak;

/// <summary>
/// <c>dotnet run -c Release --project tests/OrleansBroker.Soak -- --duration 60s --producers 4 --partitions 8 --seed 42 [--fault-rate 0.02]</c>:
/// runs <see cref="FaultWorkload"/> for a bounded time on a fresh 3-silo in-process cluster, prints the fault schedule, what was injected,
/// records/s and the history checker's table. Exit code 0: no anomaly; 1: anomalies; 2: usage error; 3: the run itself failed.
/// </summary>
internal static class SoakCommand
{
    /// <summary>Exit code of a clean run.</summary>
    public const int Clean = 0;

    /// <summary>Exit code when the checker found anomalies.</summary>
    public const int Anomalies = 1;

    /// <summary>Exit code of a command-line error.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when the run could not complete (cluster start, readback).</summary>
    public const int RunFailed = 3;

    public static RootCommand Build()
    {
        var duration = new Option<TimeSpan>("--duration")
        {
            Description = "How long the producers send (then the run settles, reads back and checks): 90s, 2m, 500ms or hh:mm:ss. At most 1 hour.",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(60),
            CustomParser = r => ParseDuration(r.Tokens.Single().Value, r),
        };
        var producers = new Option<int>("--producers") { Description = "Producers (SDK, idempotence on, one stable producer identity each).", DefaultValueFactory = _ => 4 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the run's topic.", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed of the fault schedule and of every probabilistic fault.", DefaultValueFactory = _ => 42 };
        var faultRate = new Option<double>("--fault-rate") { Description = "Probability with which each continuous fault (lost reply, failed send, duplicate delivery, reorder delay) hits a produce call.", DefaultValueFactory = _ => 0.02 };
        var events = new Option<int?>("--events") { Description = "Discrete fault events (silo kill/stop, deactivation, storage faults, torn tail, stalled call, producer restart); default: one per 4 s of --duration, at least one per kind." };
        var faults = new Option<string?>("--faults") { Description = $"Comma-separated fault kinds to use (default all): {string.Join(", ", FaultKinds.All)}." };
        var recordBytes = new Option<int>("--record-bytes") { Description = "Bytes per record value.", DefaultValueFactory = _ => 48 };
        var quiet = new Option<bool>("--quiet") { Description = "Print only the final tables, not every fault event." };
        producers.Validators.Add(r => AtLeast(r, producers, 1));
        partitions.Validators.Add(r => AtLeast(r, partitions, 1));
        recordBytes.Validators.Add(r => AtLeast(r, recordBytes, 16));
        faultRate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or > 1)
            {
                r.AddError("--fault-rate must be between 0 and 1.");
            }
        });
        faults.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } list && !TryParseKinds(list, out _, out string? bad))
            {
                r.AddError($"--faults: unknown fault kind '{bad}'; known: {string.Join(", ", FaultKinds.All)}.");
            }
        });

        var root = new RootCommand("Fault soak of OrleansBroker: producers with idempotence against 3 in-process silos under seeded faults; checks every record.")
        {
            duration, producers, partitions, seed, faultRate, events, faults, recordBytes, quiet,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            TimeSpan length = parse.GetValue(duration);
            if (!TryParseKinds(parse.GetValue(faults), out IReadOnlyList<FaultKind> kinds, out string? bad))
            {
                await Console.Error.WriteLineAsync($"--faults: unknown fault kind '{bad}'.");
                return UsageError;
            }

            int discreteKinds = kinds.Count(k => !k.IsContinuous());
            var options = new FaultWorkloadOptions
            {
                Producers = parse.GetValue(producers),
                Partitions = parse.GetValue(partitions),
                Duration = length,
                Seed = parse.GetValue(seed),
                FaultRate = parse.GetValue(faultRate),
                Faults = kinds,
                Events = parse.GetValue(events) ?? Math.Max(discreteKinds, (int)(length.TotalSeconds / 4)),
                RecordBytes = parse.GetValue(recordBytes),
                RequestTimeout = TimeSpan.FromSeconds(2),
            };
            return await SoakRun.RunAsync(options, parse.GetValue(quiet), cancellationToken);
        });
        return root;
    }

    private static void AtLeast(System.CommandLine.Parsing.OptionResult result, Option<int> option, int minimum)
    {
        if (result.GetValueOrDefault<int>() < minimum)
        {
            result.AddError($"{option.Name} must be at least {minimum}.");
        }
    }

    /// <summary>Parses 90s, 2m, 1h, 500ms or a TimeSpan (hh:mm:ss).</summary>
    private static TimeSpan ParseDuration(string text, System.CommandLine.Parsing.ArgumentResult result)
    {
        string t = text.Trim();
        TimeSpan? value = null;
        (string Suffix, Func<double, TimeSpan> Make)[] units = [("ms", TimeSpan.FromMilliseconds), ("s", TimeSpan.FromSeconds), ("m", TimeSpan.FromMinutes), ("h", TimeSpan.FromHours)];
        foreach ((string suffix, Func<double, TimeSpan> make) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double n))
            {
                value = make(n);
                break;
            }
        }

        if (value is null && TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out TimeSpan span))
        {
            value = span;
        }

        if (value is not { } v || v <= TimeSpan.Zero || v > TimeSpan.FromHours(1))
        {
            result.AddError($"--duration: '{text}' is not a duration between 1 ms and 1 hour (use 90s, 2m, 500ms or hh:mm:ss).");
            return TimeSpan.FromSeconds(1);
        }

        return v;
    }

    private static bool TryParseKinds(string? list, out IReadOnlyList<FaultKind> kinds, out string? bad)
    {
        bad = null;
        kinds = FaultKinds.All;
        if (string.IsNullOrWhiteSpace(list))
        {
            return true;
        }

        var parsed = new List<FaultKind>();
        foreach (string item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse(item, ignoreCase: true, out FaultKind kind) || !Enum.IsDefined(kind))
            {
                bad = item;
                return false;
            }

            parsed.Add(kind);
        }

        kinds = parsed;
        return true;
    }
}
