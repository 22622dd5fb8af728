using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansBroker.Benchmarks.Peer;

/// <summary>
/// librdkafka's mock cluster (a Kafka broker written in C, in memory, speaking the Kafka protocol over loopback TCP), run in a child
/// process of its own so that, like our silo host, the peer broker does not share the benchmark's process. The child is this program
/// with the hidden verb <c>mock-broker</c>: it calls <c>rd_kafka_mock_cluster_new</c> through P/Invoke on librdkafka 2.16.0 (shipped by
/// the Confluent.Kafka package), prints the bootstrap address, then creates topics on request (<c>rd_kafka_mock_topic_create</c>) until its
/// stdin closes.
/// </summary>
internal static partial class MockBroker
{
    private const string Library = "librdkafka";
    private const int ProducerType = 0;

    /// <summary>The child's main loop.</summary>
    public static int RunChild(int brokers)
    {
        NativeLibrary.SetDllImportResolver(typeof(MockBroker).Assembly, Resolve);
        IntPtr conf = rd_kafka_conf_new();
        var error = new byte[512];
        IntPtr rk = rd_kafka_new(ProducerType, conf, error, (nuint)error.Length);
        if (rk == IntPtr.Zero)
        {
            Console.Error.WriteLine("rd_kafka_new failed: " + Encoding.UTF8.GetString(error).TrimEnd('\0'));
            return 1;
        }

        IntPtr cluster = rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == IntPtr.Zero)
        {
            Console.Error.WriteLine("rd_kafka_mock_cluster_new failed");
            return 1;
        }

        string bootstraps = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(cluster)) ?? string.Empty;
        Console.Out.WriteLine("BOOTSTRAP " + bootstraps);
        Console.Out.Flush();
        while (Console.In.ReadLine() is { } line)
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && parts[0] == "create")
            {
                int code = rd_kafka_mock_topic_create(cluster, parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture), 1);
                Console.Out.WriteLine(code == 0 ? "OK" : "ERR " + code.ToString(CultureInfo.InvariantCulture));
            }
            else if (parts.Length == 1 && parts[0] == "exit")
            {
                break;
            }
            else
            {
                Console.Out.WriteLine("ERR unknown command");
            }

            Console.Out.Flush();
        }

        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(rk);
        return 0;
    }

    /// <summary>
    /// Loads librdkafka as Confluent.Kafka does: the package's generic Linux build, and when that cannot load (it needs libsasl2, missing
    /// on a slim Debian), the package's self-contained centos8 build of the same version.
    /// </summary>
    private static IntPtr Resolve(string libraryName, System.Reflection.Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Library)
        {
            return IntPtr.Zero;
        }

        string native = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64", "native");
        foreach (string name in (string[])["librdkafka.so", "centos8-librdkafka.so", "librdkafka.dylib", "librdkafka.dll"])
        {
            if (NativeLibrary.TryLoad(Path.Combine(native, name), out IntPtr handle))
            {
                return handle;
            }
        }

        return NativeLibrary.TryLoad(libraryName, assembly, searchPath, out IntPtr fallback) ? fallback : IntPtr.Zero;
    }

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_new(int type, IntPtr conf, [Out] byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library)]
    private static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);
}

/// <summary>The parent's handle on the mock-broker child process.</summary>
internal sealed class MockBrokerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private MockBrokerProcess(Process process, string bootstrapServers)
    {
        _process = process;
        BootstrapServers = bootstrapServers;
    }

    public string BootstrapServers { get; }

    public Process Process => _process;

    public static async Task<MockBrokerProcess> StartAsync(CancellationToken cancellationToken)
    {
        ProcessStartInfo start = ChildProcesses.Self("mock-broker");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the mock broker.");
        ChildProcesses.Track(process);
        _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null || !line.StartsWith("BOOTSTRAP ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The mock broker did not start: '{line}'.");
        }

        return new MockBrokerProcess(process, line["BOOTSTRAP ".Length..].Trim());
    }

    public async Task CreateTopicAsync(string topic, int partitions, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync($"create {topic} {partitions.ToString(CultureInfo.InvariantCulture)}".AsMemory(), cancellationToken);
        await _process.StandardInput.FlushAsync(cancellationToken);
        string? answer = await _process.StandardOutput.ReadLineAsync(cancellationToken);
        if (answer != "OK")
        {
            throw new InvalidOperationException($"The mock broker could not create topic {topic}: {answer}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("exit");
                await _process.StandardInput.FlushAsync();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            ChildProcesses.Kill(_process);
        }

        _process.Dispose();
    }
}
