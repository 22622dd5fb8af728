using System.Globalization;
using OrleansBroker.EndToEndTests.Infrastructure;

namespace OrleansBroker.EndToEndTests;

/// <summary>
/// A crashed silo host comes back with every partition's log end where it was, and new records continue the offsets from there.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RestartTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Produce_AfterSigkillAndRestart_OffsetsKeptAndNewRecordsAppendAfterThem()
    {
        string topic = "continuity";
        string first = fixture.PathOf("first.txt");
        string second = fixture.PathOf("second.txt");
        TextFiles.WriteRandomLines(first, 1_000, seed: 1);
        TextFiles.WriteRandomLines(second, 500, seed: 2);

        await fixture.RunCliOkAsync("topics", "create", topic, "--partitions", "2");
        Assert.Equal(1_000, CliSummaries.Produce(await fixture.RunCliOkAsync("produce", topic, "--file", first)).Acknowledged);
        IReadOnlyList<PartitionOffsets> before = CliSummaries.Describe(await fixture.RunCliOkAsync("topics", "describe", topic));
        Assert.Equal(2, before.Count);
        Assert.All(before, p => Assert.Equal(0, p.LogStartOffset));
        Assert.Equal(1_000, before.Sum(p => p.HighWatermark));

        BrokerExit killed = await fixture.Broker.KillAsync();
        Assert.Equal(137, killed.ExitCode);
        await fixture.Broker.StartAsync();

        Assert.Equal(before, CliSummaries.Describe(await fixture.RunCliOkAsync("topics", "describe", topic)));

        // New records into partition 1 start at its old high watermark; partition 0 is untouched.
        Assert.Equal(500, CliSummaries.Produce(await fixture.RunCliOkAsync("produce", topic, "--file", second, "--partition", "1")).Acknowledged);
        IReadOnlyList<PartitionOffsets> after = CliSummaries.Describe(await fixture.RunCliOkAsync("topics", "describe", topic));
        Assert.Equal([before[0], before[1] with { HighWatermark = before[1].HighWatermark + 500 }], after);

        CliResult appended = await fixture.RunCliOkAsync(
            "consume", topic, "--partition", "1", "--offset", before[1].HighWatermark.ToString(CultureInfo.InvariantCulture), "--idle-timeout-ms", "0");
        TextFiles.AssertSameBytes(second, appended.StdoutPath, $"partition 1 from offset {before[1].HighWatermark}");

        // And the first file's records are all still there, in the two partitions.
        CliResult all = await fixture.RunCliOkAsync("consume", topic, "--from-beginning", "--max-messages", "1500", "--idle-timeout-ms", "10000");
        string[] firstLines = File.ReadAllText(first)[..^1].Split('\n');
        string[] secondLines = File.ReadAllText(second)[..^1].Split('\n');
        Assert.Equal(
            firstLines.Concat(secondLines).Order(StringComparer.Ordinal),
            all.Stdout()[..^1].Split('\n').Order(StringComparer.Ordinal));
    }
}
