using System.Diagnostics;
using System.Globalization;
using OrleansBroker.Benchmarks.Peer;
using OrleansBroker.Log;
using OrleansBroker.Protocol;

namespace OrleansBroker.Benchmarks.Reactivation;

/// <summary>Options of the T5 run.</summary>
internal sealed record ReactivationOptions
{
    public long SizeBytes { get; init; } = 1L << 30;

    public int Producers { get; init; } = 10_000;

    public int RecordsPerBatch { get; init; } = 100;

    public int RecordSize { get; init; } = 100;

    public int SegmentBytes { get; init; } = 1 << 30;

    public IReadOnlyList<int> TailsMiB { get; init; } = [16, 64, 256];

    public int Repeats { get; init; } = 3;

    public string? Directory { get; init; }

    public bool Keep { get; init; }
}

/// <summary>
/// T5: how long a partition takes to reactivate (<see cref="PartitionLog.OpenAsync"/>: store recovery + producer-state rebuild) with a
/// large log and many producers, and whether that time follows the tail after the newest snapshot rather than the log size.
/// </summary>
/// <remarks>
/// Builds the partition in-process through <see cref="PartitionLog"/> on a <see cref="FileLogStore"/> (round-robin over the producers,
/// each batch restamped with its producer id and next sequence) and closes it cleanly. Then times <see cref="PartitionLog.OpenAsync"/>:
/// (a) after a clean close (snapshot and recovery point at the log end); (b) after a crash with a tail of T MiB written since the last
/// snapshot: a child process (this program, verb <c>reactivation-append</c>) opens the partition, appends T MiB with periodic snapshots
/// off, reports, and is killed with SIGKILL; the parent then reopens (store scan and producer-state replay of the tail), which is the
/// open measured; (c) with no snapshot at all (every batch replayed). Each case is repeated (a new crash each time); medians printed.
/// The page cache is warm (the tail was just written).
/// </remarks>
internal static class ReactivationRun
{
    private const long FirstProducerId = 1_000_000;

    public static async Task<int> RunAsync(ReactivationOptions o, CancellationToken cancellationToken)
    {
        string directory = o.Directory ?? Path.Combine(Path.GetTempPath(), "obroker-reactivation-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        if (!o.Keep)
        {
            ChildProcesses.TrackDirectory(directory);
        }

        try
        {
            PartitionLogOptions options = LogOptions(o.SegmentBytes, snapshotIntervalBytes: null);
            var writer = new BatchWriter(o.Producers, o.RecordsPerBatch, o.RecordSize);
            Console.WriteLine(Invariant($"T5 reactivation: log {o.SizeBytes / (1024.0 * 1024):N0} MiB, {o.Producers:N0} producers, batches of {o.RecordsPerBatch} x {o.RecordSize} B ({writer.BatchBytes:N0} B), segment.bytes {o.SegmentBytes:N0}; in {directory}; load {ChildProcesses.LoadAverage()}"));

            // Build the log (periodic snapshots every SnapshotIntervalBytes, as in production), then close cleanly.
            var build = Stopwatch.StartNew();
            await using (PartitionLog log = await PartitionLog.OpenAsync(new FileLogStore(directory, options, TimeProvider.System), options, TimeProvider.System, cancellationToken: cancellationToken))
            {
                await writer.AppendAsync(log, o.SizeBytes, cancellationToken);
            }

            build.Stop();
            long logBytes = LogBytes(directory);
            Console.WriteLine(Invariant($"Built {logBytes / (1024.0 * 1024):N0} MiB in {build.Elapsed.TotalSeconds:F1} s ({logBytes / build.Elapsed.TotalSeconds / (1024 * 1024):F0} MiB/s) with {writer.Batches:N0} batches; {Segments(directory)} segment(s)"));
            Console.WriteLine();
            Console.WriteLine("| case                                        | log (MiB) | tail replayed (MiB) | batches replayed | OpenAsync (ms, median) | producers |");
            Console.WriteLine("|---------------------------------------------|-----------|---------------------|------------------|------------------------|-----------|");

            // (a) Clean close: snapshot and recovery point at the log end.
            await MeasureAsync("clean close (snapshot at the log end)", directory, options, o.Repeats, writer.BatchBytes, prepare: null, cancellationToken);

            // (b) Crash with a tail of T MiB after the last snapshot.
            foreach (int tailMiB in o.TailsMiB.Where(t => t > 0).Order())
            {
                await MeasureAsync(Invariant($"crash, {tailMiB} MiB written after the snapshot"), directory, options, o.Repeats, writer.BatchBytes, () => CrashAfterAppendingAsync(o, directory, (long)tailMiB << 20, cancellationToken), cancellationToken);
            }

            // (c) No snapshot: every batch replayed.
            await MeasureAsync("no snapshot (whole log replayed)", directory, options, o.Repeats, writer.BatchBytes, () =>
            {
                foreach (string snapshot in System.IO.Directory.GetFiles(directory, "*.snapshot"))
                {
                    File.Delete(snapshot);
                }

                return Task.CompletedTask;
            }, cancellationToken);
            Console.WriteLine(Invariant($"Load {ChildProcesses.LoadAverage()}"));
            return 0;
        }
        finally
        {
            if (!o.Keep)
            {
                ChildProcesses.DeleteDirectory(directory);
            }
        }
    }

    /// <summary>The child: open the partition, append <c>bytes</c> without periodic snapshots, say so, and wait to be killed.</summary>
    public static async Task<int> AppendChildAsync(string[] args)
    {
        string directory = args[0];
        long bytes = long.Parse(args[1], CultureInfo.InvariantCulture);
        int producers = int.Parse(args[2], CultureInfo.InvariantCulture);
        int recordsPerBatch = int.Parse(args[3], CultureInfo.InvariantCulture);
        int recordSize = int.Parse(args[4], CultureInfo.InvariantCulture);
        int segmentBytes = int.Parse(args[5], CultureInfo.InvariantCulture);
        PartitionLogOptions options = LogOptions(segmentBytes, snapshotIntervalBytes: long.MaxValue);
        PartitionLog log = await PartitionLog.OpenAsync(new FileLogStore(directory, options, TimeProvider.System), options, TimeProvider.System);
        var writer = new BatchWriter(producers, recordsPerBatch, recordSize);
        writer.ContinueFrom(log.ProducerState);
        await writer.AppendAsync(log, bytes, CancellationToken.None);
        Console.Out.WriteLine(Invariant($"APPENDED {writer.Batches}"));
        Console.Out.Flush();

        // No DisposeAsync: the parent kills this process (no checkpoint, no snapshot, no recovery point moved).
        await Console.In.ReadLineAsync();
        return 0;
    }

    private static async Task CrashAfterAppendingAsync(ReactivationOptions o, string directory, long bytes, CancellationToken cancellationToken)
    {
        ProcessStartInfo start = ChildProcesses.Self(
            "reactivation-append",
            directory,
            bytes.ToString(CultureInfo.InvariantCulture),
            o.Producers.ToString(CultureInfo.InvariantCulture),
            o.RecordsPerBatch.ToString(CultureInfo.InvariantCulture),
            o.RecordSize.ToString(CultureInfo.InvariantCulture),
            o.SegmentBytes.ToString(CultureInfo.InvariantCulture));
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        using Process child = Process.Start(start) ?? throw new InvalidOperationException("Could not start the appending child.");
        ChildProcesses.Track(child);
        string? line = await child.StandardOutput.ReadLineAsync(cancellationToken);
        ChildProcesses.Kill(child);
        if (line is null || !line.StartsWith("APPENDED ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The appending child failed: '{line}'.");
        }
    }

    private static async Task MeasureAsync(string name, string directory, PartitionLogOptions options, int repeats, int batchBytes, Func<Task>? prepare, CancellationToken cancellationToken)
    {
        var openTimes = new List<double>();
        var replayed = new List<long>();
        int producers = 0;
        for (int i = 0; i < repeats; i++)
        {
            if (prepare is not null)
            {
                await prepare();
            }

            var sw = Stopwatch.StartNew();
            PartitionLog log = await PartitionLog.OpenAsync(new FileLogStore(directory, options, TimeProvider.System), options, TimeProvider.System, cancellationToken: cancellationToken);
            openTimes.Add(sw.Elapsed.TotalMilliseconds);
            replayed.Add(log.Recovery.BatchesReplayed);
            producers = log.Recovery.ProducerCount;

            // Close cleanly (snapshot and recovery point at the log end) so the next round starts from a known state.
            await log.DisposeAsync();
        }

        double tailMiB = Median([.. replayed.Select(r => (double)r)]) * batchBytes / (1024.0 * 1024);
        Console.WriteLine(Invariant($"| {name,-43} | {LogBytes(directory) / (1024.0 * 1024),9:N0} | {tailMiB,19:N0} | {Median([.. replayed.Select(r => (double)r)]),16:N0} | {Median(openTimes),22:F1} | {producers,9:N0} |"));
    }

    private static PartitionLogOptions LogOptions(int segmentBytes, long? snapshotIntervalBytes)
    {
        var options = new PartitionLogOptions { SegmentBytes = segmentBytes, MaxMessageBytes = int.MaxValue };
        return snapshotIntervalBytes is long interval ? options with { SnapshotIntervalBytes = interval } : options;
    }

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static long LogBytes(string directory) => System.IO.Directory.GetFiles(directory, "*.log").Sum(f => new FileInfo(f).Length);

    private static int Segments(string directory) => System.IO.Directory.GetFiles(directory, "*.log").Length;

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Appends batches round-robin over the producers, each with its next sequence.</summary>
    private sealed class BatchWriter
    {
        private readonly byte[] _template;
        private readonly byte[] _batch;
        private readonly int[] _next;
        private readonly int _recordsPerBatch;
        private int _producer;

        public BatchWriter(int producers, int recordsPerBatch, int recordSize)
        {
            _template = Micro.Batches.Build(recordsPerBatch, recordSize, FirstProducerId, 0, 0);
            _batch = new byte[_template.Length];
            _next = new int[producers];
            _recordsPerBatch = recordsPerBatch;
        }

        public int BatchBytes => _template.Length;

        public long Batches { get; private set; }

        /// <summary>Continues every producer's sequence where the partition's state says it stopped.</summary>
        public void ContinueFrom(ProducerStateManager state)
        {
            for (int p = 0; p < _next.Length; p++)
            {
                if (state.TryGetEntry(FirstProducerId + p, out ProducerStateEntry entry) && entry.Batches.Count > 0)
                {
                    _next[p] = RecordBatchHeader.IncrementSequence(entry.LastSequence, 1);
                }
            }
        }

        public async Task AppendAsync(PartitionLog log, long bytes, CancellationToken cancellationToken)
        {
            long written = 0;
            while (written < bytes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int p = _producer;
                _producer = (p + 1) % _next.Length;
                _template.CopyTo(_batch, 0);
                Micro.Batches.Restamp(_batch, FirstProducerId + p, 0, _next[p]);
                LogAppendResult result = await log.AppendAsync(_batch, cancellationToken);
                if (result.Status != AppendStatus.Appended)
                {
                    throw new InvalidOperationException($"Append refused: {result.Status} {result.Message}");
                }

                _next[p] = RecordBatchHeader.IncrementSequence(_next[p], _recordsPerBatch);
                written += _batch.Length;
                Batches++;
            }
        }
    }
}
