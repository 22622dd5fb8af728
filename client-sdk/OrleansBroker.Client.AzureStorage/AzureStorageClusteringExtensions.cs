using Azure.Data.Tables;
using Orleans.Hosting;

namespace OrleansBroker.Client;

/// <summary>
/// Lets a <see cref="BrokerClient"/> find the broker's gateways in the Azure Table Storage membership table the silos write
/// (the silo host's <c>--Broker:Storage=AzureStorage</c> or <c>--Broker:Clustering=AzureStorage</c>), instead of a static list.
/// </summary>
public static class AzureStorageClusteringExtensions
{
    /// <summary>
    /// The membership table: <c>OrleansSiloInstances</c>, Orleans' default and the silo host's
    /// (<c>AzureStorageBrokerHostingExtensions.DefaultClusteringTableName</c> on the server side).
    /// </summary>
    public const string DefaultTableName = "OrleansSiloInstances";

    /// <summary>
    /// Returns a copy of <paramref name="options"/> that discovers gateways through Azure Table Storage clustering: the Orleans client
    /// reads the active gateways of <see cref="BrokerClientOptions.ClusterId"/> from <paramref name="tableName"/> (rows keyed by the
    /// cluster id, so use the silos' ClusterId/ServiceId, by default <c>orleans-broker</c>) and follows them as silos join and leave.
    /// Sets <see cref="BrokerClientOptions.GatewayDiscovery"/> to <see cref="GatewayDiscovery.Clustering"/>, empties
    /// <see cref="BrokerClientOptions.Gateways"/>, and composes <see cref="BrokerClientOptions.ConfigureClient"/> (an existing hook
    /// runs first). In a DI container: <c>services.AddOrleansBrokerClient(o =&gt; o.UseAzureStorageClustering(connectionString))</c>.
    /// </summary>
    /// <param name="options">The options to copy.</param>
    /// <param name="connectionString">Azure Storage connection string of the account holding the silos' membership table
    /// (the silo host's <c>ConnectionStrings:AzureStorage</c>). It is never written into messages.</param>
    /// <param name="tableName">The membership table; <c>null</c>: <see cref="DefaultTableName"/>.</param>
    /// <returns>The new options.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is empty or not an Azure Storage connection string with a
    /// table endpoint, or <paramref name="tableName"/> is empty.</exception>
    public static BrokerClientOptions UseAzureStorageClustering(this BrokerClientOptions options, string connectionString, string? tableName = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("The Azure Storage connection string for gateway discovery is empty.");
        }

        TableServiceClient tables;
        try
        {
            tables = new TableServiceClient(connectionString);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            // Neither the string nor the SDK's message (which may quote a piece of it) goes into the message: it may hold an account key.
            throw new ArgumentException(
                "The Azure Storage connection string for gateway discovery is not valid; expected "
                + "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net', one with a TableEndpoint=..., "
                + "or 'UseDevelopmentStorage=true'.",
                e);
        }

        return options.UseAzureStorageClustering(tables, tableName);
    }

    /// <summary>
    /// As <see cref="UseAzureStorageClustering(BrokerClientOptions, string, string?)"/>, with a table service client of your own
    /// (for example <c>new TableServiceClient(uri, new DefaultAzureCredential())</c> for a managed identity).
    /// </summary>
    /// <param name="options">The options to copy.</param>
    /// <param name="tableServiceClient">The table service of the account holding the silos' membership table.</param>
    /// <param name="tableName">The membership table; <c>null</c>: <see cref="DefaultTableName"/>.</param>
    /// <returns>The new options.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="tableServiceClient"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tableName"/> is empty.</exception>
    public static BrokerClientOptions UseAzureStorageClustering(this BrokerClientOptions options, TableServiceClient tableServiceClient, string? tableName = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tableServiceClient);
        if (tableName is not null && string.IsNullOrWhiteSpace(tableName))
        {
            throw new ArgumentException("The membership table name is empty; pass null for the default 'OrleansSiloInstances'.");
        }

        string table = tableName ?? DefaultTableName;
        Action<IClientBuilder>? previous = options.ConfigureClient;
        return options with
        {
            Gateways = [],
            GatewayDiscovery = GatewayDiscovery.Clustering,
            GatewayDiscoverySource = $"Azure Table Storage table '{table}' at {tableServiceClient.Uri.GetLeftPart(UriPartial.Path)}",
            ConfigureClient = client =>
            {
                previous?.Invoke(client);
                client.UseAzureStorageClustering(o =>
                {
                    o.TableServiceClient = tableServiceClient;
                    o.TableName = table;
                });
            },
        };
    }
}
