using System.CommandLine;
using OrleansBroker.Cli;
using OrleansBroker.Cli.Perf;

var root = new RootCommand("obroker: topics, produce, consume and perf for OrleansBroker.")
{
    Common.Gateway,
    Common.AzureStorage,
    Common.ConnectTimeoutMs,
    Common.ClusterId,
};
root.Subcommands.Add(TopicsCommand.Build());
root.Subcommands.Add(ProduceCommand.Build());
root.Subcommands.Add(ConsumeCommand.Build());
root.Subcommands.Add(PerfCommand.Build());

ParseResult parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        await Common.Error(error.Message);
    }

    await Console.Error.WriteLineAsync("Run 'obroker --help' for usage.");
    return ExitCodes.UsageError;
}

return await parse.InvokeAsync();
