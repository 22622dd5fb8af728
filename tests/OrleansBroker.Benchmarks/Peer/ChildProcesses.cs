using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace OrleansBroker.Benchmarks.Peer;

/// <summary>Starting, tracking and killing the benchmark's child processes (silo host, mock broker) and their temp directories.</summary>
internal static class ChildProcesses
{
    private static readonly Lock Sync = new();
    private static readonly List<Process> Children = [];
    private static readonly List<string> Directories = [];

    static ChildProcesses()
    {
        // Ctrl+C, SIGTERM and normal exit all end here: no silo host or temp directory is left behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => CleanUp();
    }

    /// <summary>The dotnet host running this program (also when started through an apphost).</summary>
    public static string DotnetHost()
    {
        string? path = Environment.ProcessPath;
        if (path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            return path;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    /// <summary>Start info for this program with another verb.</summary>
    public static ProcessStartInfo Self(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost()) { UseShellExecute = false };
        start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        return start;
    }

    public static void Track(Process process)
    {
        lock (Sync)
        {
            Children.Add(process);
        }
    }

    public static void TrackDirectory(string path)
    {
        lock (Sync)
        {
            Directories.Add(path);
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>
    /// Deletes a benchmark's temporary directory once the processes writing to it have exited (callers kill and wait first, so
    /// nothing adds files meanwhile); a directory that cannot be deleted is named on stderr instead of failing the run.
    /// </summary>
    public static void DeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Could not delete {path}: {ex.Message}");
        }
    }

    /// <summary>Kills every tracked child and deletes every tracked directory.</summary>
    public static void CleanUp()
    {
        Process[] children;
        string[] directories;
        lock (Sync)
        {
            children = [.. Children];
            directories = [.. Directories];
            Children.Clear();
            Directories.Clear();
        }

        foreach (Process p in children)
        {
            Kill(p);
        }

        foreach (string d in directories)
        {
            DeleteDirectory(d);
        }
    }

    /// <summary>A TCP port free on 127.0.0.1 right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>CPU time (user + system) a process used so far; zero when it cannot be read.</summary>
    public static TimeSpan CpuTime(Process process)
    {
        try
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>The 1-minute load average (Linux), for the record of how busy the machine was.</summary>
    public static string LoadAverage()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
