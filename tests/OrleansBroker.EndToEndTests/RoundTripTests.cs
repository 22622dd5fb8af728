using System.Globalization;
using OrleansBroker.EndToEndTests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansBroker.EndToEndTests;

/// <summary>
/// The "done when": a real text file of 100,000+ lines produced with <c>obroker produce --file</c> and consumed back byte for byte
/// with <c>obroker consume</c>, also after a graceful restart (SIGTERM) and after a crash (SIGKILL) of the silo host on the same data.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RoundTripTests(BrokerFixture fixture, ITestOutputHelper output) : IClassFixture<BrokerFixture>
{
    private const int Lines = 120_000;
    private const int MoreLines = 30_000;

    [Fact]
    public async Task ProduceConsume_TextFileThroughRestartAndCrash_ConsumedBytesEqualProducedFile()
    {
        string topic = "round-trip";
        string input = fixture.PathOf("input.txt");
        long inputBytes = TextFiles.WriteRandomLines(input, Lines, seed: 20_240_601);
        Log($"input: {Lines} lines, {inputBytes} bytes (UTF-8, 0-200 chars a line); {Environment.ProcessorCount} cores; silo first start {Ms(fixture.FirstStart)}");

        CliResult create = await fixture.RunCliOkAsync("topics", "create", topic, "--partitions", "1");
        Assert.Contains($"Created topic '{topic}' with 1 partition.", create.Stdout(), StringComparison.Ordinal);

        CliResult produce = await fixture.RunCliOkAsync("produce", topic, "--file", input);
        ProduceSummary produced = CliSummaries.Produce(produce);
        // Bytes counts the lines without their '\n'.
        Assert.Equal(new ProduceSummary(Lines, inputBytes - Lines, produced.RecordsPerSecond, Lines, 0, 0), produced);
        Log($"produce: {Lines} records in {Ms(produce.Elapsed)} wall (process start and connect included); CLI summary {produced.RecordsPerSecond} records/s; wall {Rate(Lines, produce.Elapsed)} records/s");

        await ConsumeAllAndCompareAsync(topic, input, Lines, "after produce");
        await AssertHighWatermarkAsync(topic, Lines);

        // Graceful stop: SIGTERM; the host flushes, snapshots and exits with 0.
        BrokerExit stopped = await fixture.Broker.StopAsync();
        Assert.True(stopped.ExitCode == 0, $"SIGTERM: exit code {stopped.ExitCode}, expected 0.\n{fixture.Broker.RunOutput}");
        Assert.Contains("OrleansBroker silo stopped.", fixture.Broker.RunOutput, StringComparison.Ordinal);
        TimeSpan restart = await fixture.Broker.StartAsync();
        Log($"SIGTERM stop {Ms(stopped.Elapsed)}; restart on the same data until the gateway accepts {Ms(restart)}");
        await AssertHighWatermarkAsync(topic, Lines);
        await ConsumeAllAndCompareAsync(topic, input, Lines, "after SIGTERM and restart");

        // Crash: more acknowledged data, then SIGKILL straight away (no flush, no snapshot); it must all be there after a restart.
        string more = fixture.PathOf("more.txt");
        TextFiles.WriteRandomLines(more, MoreLines, seed: 7);
        ProduceSummary producedMore = CliSummaries.Produce(await fixture.RunCliOkAsync("produce", topic, "--file", more));
        Assert.Equal(MoreLines, producedMore.Acknowledged);
        Assert.Equal(0, producedMore.Failed);
        BrokerExit killed = await fixture.Broker.KillAsync();
        Assert.Equal(137, killed.ExitCode);
        TimeSpan recovery = await fixture.Broker.StartAsync();
        Log($"SIGKILL right after {MoreLines} more acknowledged records; restart with recovery until the gateway accepts {Ms(recovery)}");

        string all = fixture.PathOf("input-and-more.txt");
        TextFiles.Concatenate(all, input, more);
        await AssertHighWatermarkAsync(topic, Lines + MoreLines);
        await ConsumeAllAndCompareAsync(topic, all, Lines + MoreLines, "after SIGKILL and restart");
    }

    private async Task ConsumeAllAndCompareAsync(string topic, string expectedFile, int records, string phase)
    {
        CliResult consume = await fixture.RunCliOkAsync(
            "consume", topic, "--from-beginning", "--max-messages", records.ToString(CultureInfo.InvariantCulture), "--idle-timeout-ms", "10000");
        ConsumeSummary consumed = CliSummaries.Consume(consume);
        Assert.Equal(records, consumed.Records);
        Assert.Equal(new FileInfo(expectedFile).Length - records, consumed.Bytes);
        TextFiles.AssertSameBytes(expectedFile, consume.StdoutPath, $"consume {phase}");
        Log($"consume {phase}: {records} records in {Ms(consume.Elapsed)} wall; CLI summary {consumed.RecordsPerSecond} records/s; wall {Rate(records, consume.Elapsed)} records/s; bytes identical");
    }

    private async Task AssertHighWatermarkAsync(string topic, long expected)
    {
        IReadOnlyList<PartitionOffsets> offsets = CliSummaries.Describe(await fixture.RunCliOkAsync("topics", "describe", topic));
        Assert.Equal([new PartitionOffsets(0, 0, expected)], offsets);
    }

    private void Log(string line) => output.WriteLine(line);

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:F0} ms";

    private static string Rate(long records, TimeSpan t) => (records / t.TotalSeconds).ToString("F0", CultureInfo.InvariantCulture);
}
