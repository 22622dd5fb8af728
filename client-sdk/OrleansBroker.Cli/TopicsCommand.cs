using System.CommandLine;
using System.Globalization;
using OrleansBroker.Client;

namespace OrleansBroker.Cli;

/// <summary><c>obroker topics create|list|describe</c>.</summary>
internal static class TopicsCommand
{
    public static Command Build()
    {
        var topics = new Command("topics", "Create, list and describe topics.");
        topics.Subcommands.Add(BuildCreate());
        topics.Subcommands.Add(BuildList());
        topics.Subcommands.Add(BuildDescribe());
        return topics;
    }

    private static Command BuildCreate()
    {
        var topic = new Argument<string>("topic") { Description = "Topic name: [a-zA-Z0-9._-], 1 to 249 characters." };
        var partitions = new Option<int>("--partitions") { Description = "Number of partitions.", DefaultValueFactory = _ => 1 };
        var maxMessageBytes = new Option<int?>("--max-message-bytes") { Description = "Largest record batch, in bytes (max.message.bytes)." };
        var segmentBytes = new Option<int?>("--segment-bytes") { Description = "Segment size at which the log rolls, in bytes (segment.bytes)." };
        Common.AtLeast(partitions, 1);
        var create = new Command("create", "Create a topic.") { topic, partitions, maxMessageBytes, segmentBytes };
        create.SetAction((parse, ct) => Common.RunAsync(async token =>
        {
            var settings = new TopicSettings
            {
                MaxMessageBytes = parse.GetValue(maxMessageBytes) ?? TopicSettings.DefaultMaxMessageBytes,
                SegmentBytes = parse.GetValue(segmentBytes) ?? TopicSettings.DefaultSegmentBytes,
            };
            await using BrokerClient client = await Common.ConnectAsync(parse, token);
            TopicDescription created = await client.Admin.CreateTopicAsync(parse.GetValue(topic)!, parse.GetValue(partitions), settings, token);
            Console.Out.WriteLine($"Created topic '{created.Name}' with {created.PartitionCount} partition{(created.PartitionCount == 1 ? "" : "s")}.");
            return ExitCodes.Ok;
        }, ct));
        return create;
    }

    private static Command BuildList()
    {
        var list = new Command("list", "List topics, one per line: name, then partition count.");
        list.SetAction((parse, ct) => Common.RunAsync(async token =>
        {
            await using BrokerClient client = await Common.ConnectAsync(parse, token);
            foreach (TopicDescription t in await client.Admin.ListTopicsAsync(token))
            {
                Console.Out.WriteLine($"{t.Name}\t{t.PartitionCount}");
            }

            return ExitCodes.Ok;
        }, ct));
        return list;
    }

    private static Command BuildDescribe()
    {
        var topic = new Argument<string>("topic") { Description = "Topic name." };
        var describe = new Command("describe", "Show a topic's settings and each partition's offsets.") { topic };
        describe.SetAction((parse, ct) => Common.RunAsync(async token =>
        {
            await using BrokerClient client = await Common.ConnectAsync(parse, token);
            TopicDescription t = await client.Admin.DescribeTopicAsync(parse.GetValue(topic)!, token);
            TextWriter o = Console.Out;
            o.WriteLine($"Topic: {t.Name}");
            o.WriteLine($"Partitions: {t.PartitionCount}");
            o.WriteLine($"max.message.bytes: {t.Settings.MaxMessageBytes}");
            o.WriteLine($"segment.bytes: {t.Settings.SegmentBytes}");
            o.WriteLine($"flush.messages: {t.Settings.FlushMessages?.ToString(CultureInfo.InvariantCulture) ?? "(os)"}");
            o.WriteLine($"flush.ms: {t.Settings.FlushMs?.ToString(CultureInfo.InvariantCulture) ?? "(os)"}");
            o.WriteLine("Partition\tLogStartOffset\tHighWatermark");
            for (int p = 0; p < t.PartitionCount; p++)
            {
                WatermarkOffsets w = await client.Admin.ListOffsetsAsync(new TopicPartition(t.Name, p), token);
                o.WriteLine($"{p}\t{w.LogStartOffset}\t{w.HighWatermark}");
            }

            return ExitCodes.Ok;
        }, ct));
        return describe;
    }
}
