using System.Net;
using System.Net.Sockets;

namespace OrleansBroker.DeployTests.Infrastructure;

/// <summary>Distinct free TCP ports on 127.0.0.1.</summary>
public static class FreePorts
{
    /// <summary>Takes <paramref name="count"/> distinct ports the OS reports free (all held open until every one is chosen).</summary>
    /// <param name="count">How many ports.</param>
    /// <returns>The ports.</returns>
    public static int[] Take(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
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
