using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>The produce summary line: <c>Produced N records (B bytes) to 't' in S s (R records/s): A acknowledged, D duplicates absorbed, F failed.</c></summary>
/// <param name="Records">Records read from the input.</param>
/// <param name="Bytes">Bytes of the lines.</param>
/// <param name="RecordsPerSecond">The CLI's own rate (connect included).</param>
/// <param name="Acknowledged">Records acknowledged by the broker.</param>
/// <param name="Duplicates">Acknowledgements that were duplicates.</param>
/// <param name="Failed">Records not delivered.</param>
public sealed record ProduceSummary(long Records, long Bytes, long RecordsPerSecond, long Acknowledged, long Duplicates, long Failed);

/// <summary>The consume summary line: <c>Consumed N records (B bytes) from 't' partition(s) P in S s (R records/s).</c></summary>
/// <param name="Records">Records printed.</param>
/// <param name="Bytes">Value bytes printed.</param>
/// <param name="RecordsPerSecond">The CLI's own rate (from connected to the last record).</param>
public sealed record ConsumeSummary(long Records, long Bytes, long RecordsPerSecond);

/// <summary>One partition's row of <c>topics describe</c>.</summary>
/// <param name="Partition">Partition number.</param>
/// <param name="LogStartOffset">Log start offset.</param>
/// <param name="HighWatermark">High watermark (the next offset to be written).</param>
public sealed record PartitionOffsets(int Partition, long LogStartOffset, long HighWatermark);

/// <summary>Parses what the CLI prints, failing with the whole output when the format is not found.</summary>
public static partial class CliSummaries
{
    /// <summary>Finds the produce summary on stdout.</summary>
    /// <param name="result">A produce run.</param>
    /// <returns>The numbers.</returns>
    public static ProduceSummary Produce(CliResult result)
    {
        Match m = ProducePattern().Match(result.Stdout());
        Assert.True(m.Success, "No produce summary found.\n" + result.Describe());
        return new ProduceSummary(L(m, 1), L(m, 2), L(m, 3), L(m, 4), L(m, 5), L(m, 6));
    }

    /// <summary>Finds the consume summary on stderr.</summary>
    /// <param name="result">A consume run.</param>
    /// <returns>The numbers.</returns>
    public static ConsumeSummary Consume(CliResult result)
    {
        Match m = ConsumePattern().Match(result.Stderr);
        Assert.True(m.Success, "No consume summary found.\n" + result.Describe());
        return new ConsumeSummary(L(m, 1), L(m, 2), L(m, 3));
    }

    /// <summary>Reads the partition table of <c>topics describe</c>.</summary>
    /// <param name="result">A describe run.</param>
    /// <returns>One row per partition, in partition order.</returns>
    public static IReadOnlyList<PartitionOffsets> Describe(CliResult result)
    {
        string[] lines = result.Stdout().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int header = Array.IndexOf(lines, "Partition\tLogStartOffset\tHighWatermark");
        Assert.True(header >= 0, "No partition table found.\n" + result.Describe());
        return [.. lines.Skip(header + 1).Select(line =>
        {
            string[] cells = line.Split('\t');
            Assert.True(cells.Length == 3, $"Unexpected partition row '{line}'.\n{result.Describe()}");
            return new PartitionOffsets(
                int.Parse(cells[0], CultureInfo.InvariantCulture),
                long.Parse(cells[1], CultureInfo.InvariantCulture),
                long.Parse(cells[2], CultureInfo.InvariantCulture));
        })];
    }

    private static long L(Match m, int group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Produced (\d+) records \((\d+) bytes\) to '[^']*' in [\d.,]+ s \((\d+) records/s\): (\d+) acknowledged, (\d+) duplicates absorbed, (\d+) failed\.")]
    private static partial Regex ProducePattern();

    [GeneratedRegex(@"Consumed (\d+) records \((\d+) bytes\) from '[^']*' partitions? [\d,]+ in [\d.,]+ s \((\d+) records/s\)\.")]
    private static partial Regex ConsumePattern();
}
