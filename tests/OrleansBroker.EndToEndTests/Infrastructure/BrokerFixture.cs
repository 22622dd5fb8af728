namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>
/// One silo host process per test class: a temporary root holding the data directory (<c>data/</c>, created by the silo) and the CLI's
/// output files, two free ports, the silo started in <see cref="InitializeAsync"/>, killed and the root deleted in <see cref="DisposeAsync"/>.
/// </summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    /// <summary>Creates the paths and picks the ports; nothing runs yet.</summary>
    public BrokerFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "obroker-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Broker = BrokerProcess.OnFreePorts(Path.Combine(Root, "data"), Root);
        Cli = new CliRunner(Root);
    }

    /// <summary>Temporary root of this fixture.</summary>
    public string Root { get; }

    /// <summary>The silo host.</summary>
    public BrokerProcess Broker { get; }

    /// <summary>The CLI, writing its output files under <see cref="Root"/>.</summary>
    public CliRunner Cli { get; }

    /// <summary>How long the first start took.</summary>
    public TimeSpan FirstStart { get; private set; }

    /// <summary>Runs <c>obroker</c> against this broker's gateway.</summary>
    /// <param name="args">The verb and its arguments.</param>
    /// <returns>The finished run.</returns>
    public Task<CliResult> RunCliAsync(params string[] args) => Cli.RunAsync(Broker.Gateway, args);

    /// <summary>Runs <c>obroker</c> against this broker and fails, with the CLI's and the silo's output, unless it exits with 0.</summary>
    /// <param name="args">The verb and its arguments.</param>
    /// <returns>The finished run.</returns>
    public async Task<CliResult> RunCliOkAsync(params string[] args)
    {
        CliResult result = await RunCliAsync(args);
        if (result.ExitCode != 0)
        {
            Assert.Fail($"{result.Describe()}\n--- silo host (last 4000 chars) ---\n{Tail(Broker.Output, 4000)}");
        }

        return result;
    }

    /// <summary>A path under <see cref="Root"/>.</summary>
    /// <param name="name">File name.</param>
    /// <returns>The full path.</returns>
    public string PathOf(string name) => Path.Combine(Root, name);

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        FirstStart = await Broker.StartAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean up.
        }
    }

    private static string Tail(string text, int chars) => text.Length <= chars ? text : text[^chars..];
}
