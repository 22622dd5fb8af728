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

    private static string[] Listing(string directory, bool topLevelOnly = false) =>
        [.. Directory.EnumerateFileSystemEntries(directory, "*", topLevelOnly ? SearchOption.TopDirectoryOnly : SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(directory, p))
            .Where(p => !topLevelOnly || !p.StartsWith("cli-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
}
