using OrleansBroker.Testing;
using OrleansBroker.EndToEndTests.Infrastructure;

namespace OrleansBroker.EndToEndTests;

/// <summary>Failures reach the user as a non-zero exit code and one clear line on stderr, and leave nothing behind.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class CliErrorTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Produce_UnknownTopic_ExitsNonZeroWithOneLineNamingTheTopic()
    {
        string file = fixture.PathOf("few.txt");
        TextFiles.WriteLines(file, ["a", "b", "c"]);

        CliResult produce = await fixture.RunCliAsync("produce", "no-such-topic", "--file", file);

        Assert.True(produce.ExitCode == 1, produce.Describe());
        string error = Assert.Single(produce.StderrLines());
        Assert.StartsWith("obroker: error: ", error, StringComparison.Ordinal);
        Assert.Contains("'no-such-topic'", error, StringComparison.Ordinal);
        Assert.Contains("UnknownTopicOrPartition", error, StringComparison.Ordinal);

        // Not auto-created (Broker:AutoCreateTopics is false by default).
        CliResult list = await fixture.RunCliOkAsync("topics", "list");
        Assert.DoesNotContain("no-such-topic", list.Stdout(), StringComparison.Ordinal);
    }

    // Regression: a value that did not parse crashed the CLI with an unhandled exception (exit 134) instead of a usage error.
    [Theory]
    [InlineData("topics", "create", "x", "--partitions", "abc")]
    [InlineData("topics", "create", "x", "--partitions", "99999999999")]
    [InlineData("consume", "x", "--max-messages", "abc")]
    public async Task Cli_NumberThatDoesNotParse_ExitsTwoWithoutCrashing(params string[] args)
    {
        CliResult result = await fixture.RunCliAsync(args);

        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("whole number", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("..")]
    [InlineData("a/../../escape")]
    public async Task TopicsCreate_NameThatCouldEscapeTheDataDirectory_RefusedAndNothingWritten(string name)
    {
        // Activate the topic catalog first, so the listing below only changes if the refused name wrote something.
        await fixture.RunCliOkAsync("topics", "list");
        string data = fixture.Broker.DataDirectory;
        string[] dataBefore = Listing(data);
        string[] rootBefore = Listing(fixture.Root, topLevelOnly: true);

        CliResult create = await fixture.RunCliAsync("topics", "create", name, "--partitions", "1");

        Assert.True(create.ExitCode != 0, create.Describe());
        string error = Assert.Single(create.StderrLines());
        Assert.StartsWith("obroker: error: ", error, StringComparison.Ordinal);
        Assert.Contains("InvalidTopic", error, StringComparison.Ordinal);
        Assert.Equal(dataBefore, Listing(data));
        Assert.Equal(rootBefore, Listing(fixture.Root, topLevelOnly: true));
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "etc-0")) || Directory.Exists(Path.Combine(data, "etc-0")), "A partition directory escaped topics/.");
        Assert.DoesNotContain(name, (await fixture.RunCliOkAsync("topics", "list")).Stdout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TopicsList_NothingListeningOnGateway_ExitsNonZeroSayingItCannotReachTheBroker()
    {
        string gateway = $"127.0.0.1:{FreePorts.Take(1)[0]}";

        CliResult list = await fixture.Cli.RunAsync(gateway, "topics", "list", "--connect-timeout-ms", "1500");

        Assert.True(list.ExitCode == 1, list.Describe());
        string error = Assert.Single(list.StderrLines());
        Assert.StartsWith("obroker: error: Cannot reach broker at " + gateway, error, StringComparison.Ordinal);
        Assert.True(list.Elapsed < TimeSpan.FromSeconds(20), $"--connect-timeout-ms 1500 was not honoured: {list.Elapsed.TotalSeconds:F1} s.\n{list.Describe()}");
    }

    [Fact]
    public async Task TopicsList_NothingListeningWithLongTimeout_SaysItIsStillTryingThenFails()
    {
        // Found by a new user: with the default 30 s connect timeout, a broker that is down left the CLI silent for 30 s.
        string gateway = $"127.0.0.1:{FreePorts.Take(1)[0]}";

        CliResult list = await fixture.Cli.RunAsync(gateway, "topics", "list", "--connect-timeout-ms", "6000");

        Assert.True(list.ExitCode == 1, list.Describe());
        Assert.Equal(
            [$"obroker: still trying to reach the broker at {gateway}; giving up after 6000 ms (--connect-timeout-ms).", $"obroker: error: Cannot reach broker at {gateway}"],
            list.StderrLines().Select(l => l.StartsWith("obroker: error: ", StringComparison.Ordinal) ? l[..($"obroker: error: Cannot reach broker at {gateway}".Length)] : l));
    }

    [Fact]
    public async Task Consume_OffsetPastTheEnd_NamesTheRangeAndTheCommandsOptions()
    {
        // Found by a new user: the error named the SDK's AutoOffsetReset, which the CLI does not have.
        string topic = "range-" + Guid.NewGuid().ToString("N")[..8];
        string file = fixture.PathOf(topic + ".txt");
        TextFiles.WriteLines(file, ["a", "b", "c"]);
        await fixture.RunCliOkAsync("topics", "create", topic, "--partitions", "1");
        await fixture.RunCliOkAsync("produce", topic, "--file", file);

        CliResult consume = await fixture.RunCliAsync("consume", topic, "--offset", "10", "--idle-timeout-ms", "0");

        Assert.True(consume.ExitCode == 1, consume.Describe());
        Assert.Equal(
            $"obroker: error: Offset 10 is outside {topic}[0]: it holds offsets 0 to 2; use --from-beginning, or an --offset from 0 to 3 (the end: new records only). (OffsetOutOfRange)",
            Assert.Single(consume.StderrLines()));
        Assert.Equal(string.Empty, consume.Stdout());
    }

    private static string[] Listing(string directory, bool topLevelOnly = false) =>
        [.. Directory.EnumerateFileSystemEntries(directory, "*", topLevelOnly ? SearchOption.TopDirectoryOnly : SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(directory, p))
            .Where(p => !topLevelOnly || !p.StartsWith("cli-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
}
