using System.Globalization;
using System.Text;
using OrleansBroker.EndToEndTests.Infrastructure;
using OrleansBroker.Protocol;

namespace OrleansBroker.EndToEndTests;

/// <summary>
/// <c>obroker produce --key-separator</c> into several partitions: Kafka's default partitioner sends every record of a key to one partition
/// (murmur2 of the key), where the key's records keep their input order.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class KeyedProduceTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private const int Partitions = 3;
    private const int Lines = 3_000;
    private const int Keys = 40;

    [Fact]
    public async Task Produce_KeySeparatorIntoThreePartitions_EachKeyInItsMurmur2PartitionInInputOrder()
    {
        string topic = "keyed";
        var random = new Random(42);
        var input = new List<(string Key, string Value)>(Lines);
        for (int i = 0; i < Lines; i++)
        {
            string key = "user-" + random.Next(Keys).ToString("D2", CultureInfo.InvariantCulture);

            // Values keep any later separators (split at the first one only), may be empty and carry multi-byte characters.
            string value = (i % 97) switch
            {
                0 => "",
                1 => $"{i}:with:colons",
                _ => $"{i}-é漢😀-{random.Next()}",
            };
            input.Add((key, value));
        }

        string file = fixture.PathOf("keyed.txt");
        TextFiles.WriteLines(file, input.Select(r => r.Key + ":" + r.Value));

        await fixture.RunCliOkAsync("topics", "create", topic, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture));
        ProduceSummary produced = CliSummaries.Produce(await fixture.RunCliOkAsync("produce", topic, "--file", file, "--key-separator", ":"));
        Assert.Equal(((long)Lines, 0L, 0L), (produced.Acknowledged, produced.Duplicates, produced.Failed));

        // The whole topic: the multiset of values equals the input's.
        CliResult all = await fixture.RunCliOkAsync("consume", topic, "--from-beginning", "--max-messages", Lines.ToString(CultureInfo.InvariantCulture), "--idle-timeout-ms", "10000");
        Assert.Equal(Sorted(input.Select(r => r.Value)), Sorted(OutputLines(all)));

        // Each partition: exactly the keys Kafka's partitioner assigns to it, each key's values in input order.
        var seenIn = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int p = 0; p < Partitions; p++)
        {
            CliResult consume = await fixture.RunCliOkAsync(
                "consume", topic, "--partition", p.ToString(CultureInfo.InvariantCulture), "--from-beginning", "--idle-timeout-ms", "0", "--print-key", "--key-separator", ":");
            List<(string Key, string Value)> records = [.. OutputLines(consume).Select(SplitAtFirstColon)];
            Assert.NotEmpty(records);
            foreach (IGrouping<string, (string Key, string Value)> byKey in records.GroupBy(r => r.Key, StringComparer.Ordinal))
            {
                Assert.True(seenIn.TryAdd(byKey.Key, p), $"Key '{byKey.Key}' is in partition {p} and in partition {seenIn.GetValueOrDefault(byKey.Key)}.");
                Assert.Equal(KafkaPartitioner.Partition(Encoding.UTF8.GetBytes(byKey.Key), Partitions), p);
                Assert.Equal(input.Where(r => r.Key == byKey.Key).Select(r => r.Value), byKey.Select(r => r.Value));
            }
        }

        Assert.Equal(input.Select(r => r.Key).Distinct().Order(StringComparer.Ordinal), seenIn.Keys.Order(StringComparer.Ordinal));
    }

    private static string[] OutputLines(CliResult result)
    {
        string text = result.Stdout();
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        return text[..^1].Split('\n');
    }

    private static (string Key, string Value) SplitAtFirstColon(string line)
    {
        int at = line.IndexOf(':', StringComparison.Ordinal);
        Assert.True(at > 0, $"No key separator in consumed line '{line}'.");
        return (line[..at], line[(at + 1)..]);
    }

    private static List<string> Sorted(IEnumerable<string> values) => [.. values.Order(StringComparer.Ordinal)];
}
