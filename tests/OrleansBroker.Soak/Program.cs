using System.CommandLine;
using OrleansBroker.Soak;

RootCommand root = SoakCommand.Build();
ParseResult parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
    {
        await Console.Error.WriteLineAsync(error.Message);
    }

    await Console.Error.WriteLineAsync("Run 'dotnet run --project tests/OrleansBroker.Soak -- --help' for usage.");
    return SoakCommand.UsageError;
}

return await parse.InvokeAsync();
