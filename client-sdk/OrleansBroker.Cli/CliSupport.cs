using System.CommandLine;
using OrleansBroker.Client;

namespace OrleansBroker.Cli;

/// <summary>Exit codes of <c>obroker</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>The broker refused or failed a request, or could not be reached, or a record was not delivered.</summary>
    public const int BrokerError = 1;

    /// <summary>The command line is wrong.</summary>
    public const int UsageError = 2;

    /// <summary>Interrupted (Ctrl+C) before the work was done.</summary>
    public const int Interrupted = 130;
}

/// <summary>Options every verb takes, and the shared error handling.</summary>
internal static class Common
{
    /// <summary>Environment variable read when neither <c>--azure-storage</c> nor <c>--gateway</c> is given.</summary>
    public const string AzureStorageVariable = "OBROKER_AZURE_STORAGE";

    public static readonly Option<string[]> Gateway = new("--gateway")
    {
        Description = "Broker gateway as host:port; repeat for several gateways. Not with --azure-storage.",
        DefaultValueFactory = _ => [BrokerClientOptions.DefaultGateway],
        Recursive = true,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<string> AzureStorage = new("--azure-storage")
    {
        Description = "Find the gateways in the silos' Azure Table Storage membership table (OrleansSiloInstances) instead of --gateway: "
            + "the Azure Storage connection string the silos use. Default: the " + AzureStorageVariable + " environment variable, "
            + "unless --gateway is given.",
        HelpName = "connection string",
        Recursive = true,
    };

    public static readonly Option<int> ConnectTimeoutMs = new("--connect-timeout-ms")
    {
        Description = "How long to keep trying to reach a gateway, in ms.",
        DefaultValueFactory = _ => 30_000,
        Recursive = true,
    };

    public static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "Orleans ClusterId and ServiceId of the broker.",
        DefaultValueFactory = _ => BrokerClientOptions.DefaultClusterId,
        Recursive = true,
    };

    static Common()
    {
        ConnectTimeoutMs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--connect-timeout-ms must be at least 1.");
            }
        });
    }

    /// <summary>
    /// Connects with the gateways (or the Azure Storage membership table) and timeout given on the command line. Gateway
    /// discovery: <c>--azure-storage</c>, else <c>--gateway</c> when given, else <see cref="AzureStorageVariable"/> when set, else the
    /// default gateway.
    /// </summary>
    /// <exception cref="UsageException">Both <c>--azure-storage</c> and <c>--gateway</c> are given.</exception>
    /// <exception cref="ArgumentException">The connection string is not valid (message without the string itself).</exception>
    public static async Task<BrokerClient> ConnectAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        string cluster = parse.GetValue(ClusterId)!;
        var options = new BrokerClientOptions
        {
            Gateways = parse.GetValue(Gateway)!,
            StartupTimeout = TimeSpan.FromMilliseconds(parse.GetValue(ConnectTimeoutMs)),
            ClusterId = cluster,
            ServiceId = cluster,
        };
        string where = string.Join(", ", options.Gateways);
        if (AzureStorageConnectionString(parse) is { } connectionString)
        {
            options = options.UseAzureStorageClustering(connectionString);
            where = "the gateways listed in the Azure Storage membership table";
        }

        // A broker that is down is retried until the connect timeout (30 s by default): say so after a moment instead of waiting in
        // silence. Not for short timeouts, which end before the notice would help.
        Task<BrokerClient> connecting = BrokerClient.ConnectAsync(options, cancellationToken);
        if (options.StartupTimeout >= 2 * ConnectNoticeAfter
            && await Task.WhenAny(connecting, Task.Delay(ConnectNoticeAfter, cancellationToken)).ConfigureAwait(false) != connecting
            && !cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync(
                $"obroker: still trying to reach the broker at {where}; giving up after {options.StartupTimeout.TotalMilliseconds:0} ms (--connect-timeout-ms).").ConfigureAwait(false);
        }

        return await connecting.ConfigureAwait(false);
    }

    /// <summary>How long a connection attempt runs before the CLI says it is still trying.</summary>
    public static readonly TimeSpan ConnectNoticeAfter = TimeSpan.FromSeconds(2);

    /// <summary>The connection string to discover gateways with, or <c>null</c> for the gateway list.</summary>
    private static string? AzureStorageConnectionString(ParseResult parse)
    {
        bool gatewayGiven = parse.GetResult(Gateway) is { Implicit: false };
        if (parse.GetResult(AzureStorage) is { Implicit: false })
        {
            if (gatewayGiven)
            {
                throw new UsageException("--azure-storage and --gateway are alternatives: give one of them.");
            }

            return parse.GetValue(AzureStorage) ?? string.Empty;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(AzureStorageVariable);
        return gatewayGiven || string.IsNullOrWhiteSpace(fromEnvironment) ? null : fromEnvironment;
    }

    /// <summary>Runs a verb: one-line errors on stderr, exit 1 for broker errors, 2 for usage errors, 130 when interrupted.</summary>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await action(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("obroker: interrupted").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (UsageException ex)
        {
            await Error(ex.Message).ConfigureAwait(false);
            return ExitCodes.UsageError;
        }
        catch (ArgumentException ex)
        {
            await Error(ex.Message).ConfigureAwait(false);
            return ExitCodes.UsageError;
        }
        catch (BrokerException ex)
        {
            await Error(ex is BrokerConnectionException ? ex.Message : $"{ex.Message} ({ex.ErrorCode})").ConfigureAwait(false);
            return ExitCodes.BrokerError;
        }
        catch (IOException ex)
        {
            await Error(ex.Message).ConfigureAwait(false);
            return ExitCodes.BrokerError;
        }
        catch (UnauthorizedAccessException ex)
        {
            await Error(ex.Message).ConfigureAwait(false);
            return ExitCodes.BrokerError;
        }
    }

    /// <summary>Writes "obroker: error: message" on one line of stderr.</summary>
    public static Task Error(string message) =>
        Console.Error.WriteLineAsync("obroker: error: " + message.ReplaceLineEndings(" "));

    /// <summary>Adds a validator that requires a value of at least <paramref name="min"/>.</summary>
    public static void AtLeast<T>(Option<T> option, long min)
    {
        option.Validators.Add(r =>
        {
            // A token that does not parse is already a parse error; reading the value would throw (and crash the CLI).
            if (r.Tokens.Count > 0 && !ParsesAs<T>(r.Tokens[^1].Value))
            {
                r.AddError($"{option.Name} takes a whole number; '{r.Tokens[^1].Value}' is not one.");
                return;
            }

            object? value = r.GetValueOrDefault<T>();
            if (value is not null && Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) < min)
            {
                r.AddError($"{option.Name} must be at least {min}.");
            }
        });
    }

    private static bool ParsesAs<T>(string token)
    {
        var style = System.Globalization.NumberStyles.Integer;
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        Type type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return type == typeof(int) ? int.TryParse(token, style, culture, out _)
            : type == typeof(long) ? long.TryParse(token, style, culture, out _)
            : type != typeof(short) || short.TryParse(token, style, culture, out _);
    }
}

/// <summary>A command-line mistake found after parsing (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
