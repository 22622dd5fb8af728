using System.Globalization;
using OrleansBroker.ClusterTests.Faults.Workload;
using OrleansBroker.ClusterTests.Infrastructure.Faults;

namespace OrleansBroker.Soak;

/// <summary>One soak run: start the cluster, run the workload, print the tables, stop the cluster.</summary>
internal static class SoakRun
{
    public static async Task<int> RunAsync(FaultWorkloadOptions options, bool quiet, CancellationToken cancellationToken)
    {
        var fixture = new SoakClusterFixture();
        IAsyncLifetime lifetime = fixture;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Starting {SiloKillClusterFixture.Silos} in-process silos (data directory {fixture.DataDirectory})..."));
        try
        {
            await lifetime.InitializeAsync();
            var workload = new FaultWorkload(fixture, options, quiet ? null : Console.Out.WriteLine);
            FaultWorkloadResult result = await workload.RunAsync(cancellationToken);
            if (quiet)
            {
                Console.Out.WriteLine(result.ToText());
            }

            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"soak: {result.Records} records, {result.Records / Math.Max(result.SendingTime.TotalSeconds, 0.001):0} records/s while sending ({result.RecordsPerSecond:0} records/s to the last outcome), {result.Report.TotalAnomalies} anomalies"));
            Console.Out.WriteLine(result.Report.ToJson());
            return result.Report.HasAnomalies ? SoakCommand.Anomalies : SoakCommand.Clean;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"The soak run failed: {ex}");
            return SoakCommand.RunFailed;
        }
        finally
        {
            await lifetime.DisposeAsync();
        }
    }

    /// <summary>3 silos, fast failure detection, fault injection (the cluster tests' <see cref="SiloKillClusterFixture"/>); no log files.</summary>
    private sealed class SoakClusterFixture : SiloKillClusterFixture
    {
        protected override void ConfigureFaultCluster(Orleans.TestingHost.TestClusterBuilder builder)
        {
            base.ConfigureFaultCluster(builder);

            // TestCluster writes one log file per silo into ./logs by default; a soak run leaves nothing in the working directory.
            builder.Options.ConfigureFileLogging = false;
        }
    }
}
