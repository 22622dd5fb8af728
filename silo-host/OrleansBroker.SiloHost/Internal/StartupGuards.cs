using System.Net;
using System.Net.Sockets;

namespace OrleansBroker.SiloHost.Internal;

/// <summary>Checks made before the silo starts, so a second broker on the same ports or data directory refuses to start.</summary>
internal static class StartupGuards
{
    /// <summary>Name of the lock file held in the data directory while a broker runs on it.</summary>
    public const string DataDirectoryLockFileName = ".broker.lock";

    /// <summary>
    /// Binds each port once without port sharing. Orleans listens with address/port reuse, so a second silo on the same ports would
    /// otherwise start, listen beside the first, and clients would reach either broker at random.
    /// </summary>
    /// <param name="address">The address the silo will listen on.</param>
    /// <param name="ports">Each setting name and its port; ports of 0 are skipped.</param>
    /// <returns>One line per port in use, naming the setting to change; empty when all are free.</returns>
    public static IReadOnlyList<string> FindPortsInUse(IPAddress address, IEnumerable<(string Setting, int Port)> ports)
    {
        var failures = new List<string>();
        foreach ((string setting, int port) in ports)
        {
            if (port <= 0)
            {
                continue;
            }

            var probe = new TcpListener(address, port);
            try
            {
                probe.Start();
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                failures.Add($"port {port} on {address} is in use (another broker or program listens there): stop it or set {setting} to a free port.");
            }
            finally
            {
                probe.Stop();
            }
        }

        return failures;
    }

    /// <summary>
    /// Takes an exclusive lock on <c>{dataDirectory}/.broker.lock</c> for the life of the process, so two brokers never share one data
    /// directory (each partition log is also fenced by its own lock; this makes the mistake fail at start instead of at the first produce).
    /// </summary>
    /// <param name="dataDirectory">The broker's data directory; created when missing.</param>
    /// <param name="lockFile">The open lock file: keep it until the process ends.</param>
    /// <param name="failure">One line saying why the lock could not be taken.</param>
    /// <returns>True when the lock is held.</returns>
    public static bool TryLockDataDirectory(string dataDirectory, out FileStream? lockFile, out string? failure)
    {
        string full = Path.GetFullPath(dataDirectory);
        string path = Path.Combine(full, DataDirectoryLockFileName);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not a lock conflict: a path through a file, a read-only file system, a missing mount.
            lockFile = null;
            failure = $"data directory {full} cannot be created ({ex.Message}). Set Broker:DataDirectory to a folder this process can create and write.";
            return false;
        }

        try
        {
            lockFile = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            lockFile.SetLength(0);
            byte[] pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            lockFile.Write(pid);
            lockFile.Flush();
            failure = null;
            return true;
        }
        catch (IOException ex)
        {
            lockFile = null;
            failure = $"data directory {full} is in use by another broker ({path} is locked: {ex.Message}). Stop that broker or set Broker:DataDirectory.";
            return false;
        }
        catch (UnauthorizedAccessException ex)
        {
            lockFile = null;
            failure = $"data directory {full} cannot be written ({ex.Message}). Set Broker:DataDirectory to a writable folder.";
            return false;
        }
    }
}
