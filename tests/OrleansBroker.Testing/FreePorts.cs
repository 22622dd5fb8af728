using System.Net;
using System.Net.Sockets;

namespace OrleansBroker.Testing;

/// <summary>Picks free loopback TCP ports by binding listeners to port 0 and releasing them.</summary>
public static class FreePorts
{
    /// <summary>Returns <paramref name="count"/> distinct ports that were free a moment ago.</summary>
    /// <param name="count">How many ports, 1 or more.</param>
    /// <returns>The port numbers.</returns>
    public static int[] Take(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                // All held at once, so the ports differ.
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (TcpListener listener in listeners)
            {
                listener.Stop();
            }
        }
    }
}
