using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Log.Tests.TestDoubles;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Tests.TwoWriters;

/// <summary>
/// A partition log can have one writer only (SEMANTICS.md "Beyond Kafka"): a second <see cref="PartitionLog"/> (a second grain activation) on
/// the same directory, in this process or another, is fenced with <see cref="LogFencedException"/> while the first keeps writing; the log stays
/// one consistent sequence (contiguous offsets, valid CRCs, every acknowledged batch once); after the first closes, the next writer sees
/// everything, producer state included.
/// </summary>
public sealed class TwoWritersTests : IAsyncLifetime
{
    private const long ProducerA = 7001;
    private const long ProducerB = 7002;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "obroker-two-writers", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new();
    private readonly List<PartitionLog> _logs = [];
    private readonly List<string> _acknowledged = [];
    private readonly PartitionLogOptions _options = new() { SegmentBytes = 1024, IndexIntervalBytes = 256 };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (PartitionLog log in _logs)
        {
            await log.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task OpenAsync_SecondLogWhileFirstHoldsDirectory_IsFencedAndFirstKeepsWriting()
    {
        PartitionLog first = await OpenAsync();
        await AppendAsync(first, ProducerA, 0, 3, expectedOffset: 0);

        LogFencedException fenced = await Assert.ThrowsAsync<LogFencedException>(OpenAsync);
        await AppendAsync(first, ProducerA, 3, 2, expectedOffset: 3);
        await AppendAsync(first, ProducerB, 0, 1, expectedOffset: 5);

        Assert.Contains(_directory, fenced.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<LogStorageException>(fenced);
        Assert.False(first.IsFaulted);
        await AssertOneConsistentSequenceAsync(first);
    }

    [Fact]
    public async Task OpenAsync_SecondWriterAttemptsBetweenAppends_NeverWriteAndLogStaysOneSequence()
    {
        PartitionLog first = await OpenAsync();
        int sequence = 0;
        for (int round = 0; round < 40; round++)
        {
            await AppendAsync(first, ProducerA, sequence, 3, expectedOffset: sequence);
            sequence += 3;

            // The first writer's own periodic snapshot is written in the background: let it land before listing the files.
            await (first.BackgroundSnapshot ?? Task.CompletedTask);
            string[] filesBefore = Files();
            await Assert.ThrowsAsync<LogFencedException>(OpenAsync);
            Assert.Equal(filesBefore, Files());
        }

        Assert.True(Directory.GetFiles(_directory, "*.log").Length > 3, "the run should roll segments");
        await AssertOneConsistentSequenceAsync(first);
    }

    [Fact]
    public async Task OpenAsync_SecondWritersRacingAppendsOnOtherThreads_AllFencedAndLogStaysOneSequence()
    {
        PartitionLog first = await OpenAsync();
        using var stop = new CancellationTokenSource();
        int fencedCount = 0;
        var racers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var store = new FileLogStore(_directory, _options, _time);
                try
                {
                    PartitionLog intruder = await PartitionLog.OpenAsync(store, _options, _time);
                    _logs.Add(intruder);
                    throw new InvalidOperationException("A second writer opened the partition while the first held it.");
                }
                catch (LogFencedException)
                {
                    Interlocked.Increment(ref fencedCount);
                }
            }
        })).ToArray();

        int sequence = 0;
        for (int i = 0; i < 150 || Volatile.Read(ref fencedCount) < 20; i++)
        {
            await AppendAsync(first, ProducerA, sequence, 2, expectedOffset: sequence);
            sequence += 2;
        }

        await stop.CancelAsync();
        await Task.WhenAll(racers);

        Assert.True(fencedCount >= 20, $"{fencedCount} fenced attempts");
        await AssertOneConsistentSequenceAsync(first);
    }

    [Fact]
    public async Task OpenAsync_AfterFirstWriterClosed_SecondSeesEverythingIncludingProducerState()
    {
        PartitionLog first = await OpenAsync();
        byte[] lastOfA = TestBatches.Create(ProducerA, 0, 4, records: 2, tag: "a-4");
        await AppendAsync(first, ProducerA, 0, 4, expectedOffset: 0);
        await AssertAppendedAsync(first, lastOfA, expectedOffset: 4, "a-4");
        await Assert.ThrowsAsync<LogFencedException>(OpenAsync);

        await first.DisposeAsync();
        _logs.Remove(first);
        PartitionLog second = await OpenAsync();

        Assert.Equal(6, second.LogEndOffset);
        LogAppendResult retry = await second.AppendAsync(TestBatches.Create(ProducerA, 0, 4, records: 2, tag: "a-4"));
        Assert.Equal(new LogAppendResult(AppendStatus.Duplicate, 4, TestBatches.BaseTime + 1), retry);
        await AppendAsync(second, ProducerA, 6, 1, expectedOffset: 6);
        await AssertOneConsistentSequenceAsync(second);
    }

    [Fact]
    public async Task OpenAsync_WhileFirstWriterIsMidAppend_IsFencedAndDoesNotTouchTheHalfWrittenBatch()
    {
        var io = new GatedLogFileIo();
        PartitionLog first = await OpenAsync(io);
        await AppendAsync(first, ProducerA, 0, 2, expectedOffset: 0);
        Task paused = io.HoldNextWrite();
        Task append = AppendAsync(first, ProducerA, 2, 2, expectedOffset: 2);
        await paused.WaitAsync(TimeSpan.FromSeconds(30));
        long sizeMidWrite = new FileInfo(Path.Combine(_directory, "00000000000000000000.log")).Length;

        // The intruder's recovery would truncate the half-written tail: it must not get that far.
        await Assert.ThrowsAsync<LogFencedException>(() => OpenAsync());
        Assert.Equal(sizeMidWrite, new FileInfo(Path.Combine(_directory, "00000000000000000000.log")).Length);
        io.Release();
        await append.WaitAsync(TimeSpan.FromSeconds(30));

        await AssertOneConsistentSequenceAsync(first);
    }

    [Fact]
    public async Task OpenAsync_FirstWriterFailedMidAppend_StaysFencedUntilDisposedThenNextRecoversAcknowledgedOnly()
    {
        var io = new GatedLogFileIo();
        PartitionLog first = await OpenAsync(io);
        await AppendAsync(first, ProducerA, 0, 2, expectedOffset: 0);
        io.FailNextWrite(new IOException("No space left on device"), 30);

        await Assert.ThrowsAsync<LogStorageException>(async () => await first.AppendAsync(TestBatches.Create(ProducerA, 0, 2, 2)));
        Assert.True(first.IsFaulted);
        await Assert.ThrowsAsync<LogFencedException>(() => OpenAsync());

        await first.DisposeAsync();
        _logs.Remove(first);
        PartitionLog second = await OpenAsync();

        Assert.Equal(30, second.Recovery.Store.TruncatedBytes);
        Assert.Equal(2, second.LogEndOffset);
        await AppendAsync(second, ProducerA, 2, 2, expectedOffset: 2);
        await AssertOneConsistentSequenceAsync(second);
    }

    /// <summary>A writer in another process (flock(1), the same <c>flock</c> lock .NET takes for <see cref="FileShare.None"/>) fences this one.</summary>
    [Fact]
    public async Task OpenAsync_AnotherProcessHoldsTheLock_IsFencedUntilItExits()
    {
        PartitionLog first = await OpenAsync();
        await AppendAsync(first, ProducerA, 0, 2, expectedOffset: 0);
        await first.DisposeAsync();
        _logs.Remove(first);

        using Process holder = StartFlockHolder(Path.Combine(_directory, ".lock"));
        try
        {
            string? line = await holder.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("held", line);

            await Assert.ThrowsAsync<LogFencedException>(OpenAsync);
            await Assert.ThrowsAsync<LogFencedException>(OpenAsync);

            holder.StandardInput.Close();
            await holder.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }

        PartitionLog second = await OpenAsync();
        await AppendAsync(second, ProducerA, 2, 1, expectedOffset: 2);
        await AssertOneConsistentSequenceAsync(second);
    }

    /// <summary>While a log is open here, a writer in another process cannot take the partition's lock.</summary>
    [Fact]
    public async Task OpenAsync_OpenLogHere_AnotherProcessCannotTakeTheLock()
    {
        PartitionLog first = await OpenAsync();
        await AppendAsync(first, ProducerA, 0, 1, expectedOffset: 0);

        int whileOpen = await TryFlockAsync(Path.Combine(_directory, ".lock"));
        await first.DisposeAsync();
        _logs.Remove(first);
        int afterClose = await TryFlockAsync(Path.Combine(_directory, ".lock"));

        Assert.Equal(99, whileOpen);
        Assert.Equal(0, afterClose);
    }

    private async Task<PartitionLog> OpenAsync() => await OpenAsync(null);

    private async Task<PartitionLog> OpenAsync(GatedLogFileIo? io)
    {
        var store = io is null ? new FileLogStore(_directory, _options, _time) : new FileLogStore(_directory, _options, _time) { FileIo = io };
        PartitionLog log = await PartitionLog.OpenAsync(store, _options, _time);
        lock (_logs)
        {
            _logs.Add(log);
        }

        return log;
    }

    private async Task AppendAsync(PartitionLog log, long producerId, int baseSequence, int records, long expectedOffset)
    {
        string tag = $"{producerId}-{baseSequence}";
        await AssertAppendedAsync(log, TestBatches.Create(producerId, 0, baseSequence, records, tag: tag), expectedOffset, tag, records);
    }

    private async Task AssertAppendedAsync(PartitionLog log, byte[] batch, long expectedOffset, string tag, int records = 2)
    {
        LogAppendResult result = await log.AppendAsync(batch);
        Assert.Equal(AppendStatus.Appended, result.Status);
        Assert.Equal(expectedOffset, result.BaseOffset);
        for (int i = 0; i < records; i++)
        {
            _acknowledged.Add($"{tag}-{i}");
        }
    }

    /// <summary>Every batch validates (CRC), offsets run 0, 1, 2, ... without gap or overlap, and the values are exactly the acknowledged ones.</summary>
    private async Task AssertOneConsistentSequenceAsync(PartitionLog log)
    {
        ReadOnlyMemory<byte>? bytes = await log.ReadAsync(0, int.MaxValue);
        Assert.NotNull(bytes);
        long next = 0;
        var values = new List<string>();
        foreach ((RecordBatchHeader header, ReadOnlyMemory<byte> batch) in RecordBatchReader.ReadBatches(bytes.Value))
        {
            Assert.Equal(BatchFormatError.None, RecordBatch.Validate(batch.Span, int.MaxValue, out _));
            Assert.Equal(next, header.BaseOffset);
            next = header.LastOffset + 1;
            values.AddRange(RecordBatchReader.ReadRecords(batch).Select(r => Encoding.UTF8.GetString(r.Value!.Value.Span)));
        }

        Assert.Equal(log.LogEndOffset, next);
        Assert.Equal(_acknowledged, values);
    }

    private string[] Files() => [.. Directory.GetFiles(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    /// <summary>Starts <c>flock -x lock -c 'echo held; exec cat'</c>: holds the lock until its standard input is closed.</summary>
    private static Process StartFlockHolder(string lockPath)
    {
        var start = new ProcessStartInfo("flock")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-x", lockPath, "-c", "echo held; exec cat" })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("flock(1) did not start; it is part of util-linux.");
    }

    /// <summary>Runs <c>flock -n -E 99 -x lock true</c>: 0 when the lock was free, 99 when another holder has it.</summary>
    private static async Task<int> TryFlockAsync(string lockPath)
    {
        var start = new ProcessStartInfo("flock") { UseShellExecute = false };
        foreach (string arg in new[] { "-n", "-E", "99", "-x", lockPath, "true" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("flock(1) did not start; it is part of util-linux.");
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        return process.ExitCode;
    }
}
