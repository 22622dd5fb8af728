using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OrleansBroker.Client.Internal;

/// <summary>Parses and resolves gateway addresses given as <c>host:port</c>.</summary>
internal static class GatewayAddress
{
    /// <summary>Splits <c>host:port</c>, <c>1.2.3.4:port</c> or <c>[v6]:port</c>.</summary>
    public static bool TryParse(string? text, out string host, out int port, out string? reason)
    {
        host = "";
        port = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            reason = "A gateway is empty; expected host:port.";
            return false;
        }

        text = text.Trim();
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            reason = $"Gateway '{text}' is not host:port.";
            return false;
        }

        string h = text[..colon];
        if (h.StartsWith('[') && h.EndsWith(']'))
        {
            h = h[1..^1];
        }
        else if (h.Contains(':', StringComparison.Ordinal))
        {
            reason = $"Gateway '{text}': write an IPv6 address as [address]:port.";
            return false;
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
        {
            reason = $"Gateway '{text}' has no valid port (1-65535).";
            return false;
        }

        if (h.Length == 0)
        {
            reason = $"Gateway '{text}' has no host.";
            return false;
        }

        host = h;
        port = p;
        reason = null;
        return true;
    }

    /// <summary>Resolves every gateway to one IP endpoint (IPv4 preferred), resolving host names with DNS.</summary>
    public static async Task<IPEndPoint[]> ResolveAsync(IReadOnlyList<string> gateways, CancellationToken cancellationToken)
    {
        var result = new List<IPEndPoint>(gateways.Count);
        foreach (string g in gateways)
        {
            if (!TryParse(g, out string host, out int port, out string? reason))
            {
                throw new ArgumentException(reason);
            }

            if (IPAddress.TryParse(host, out IPAddress? ip))
            {
                result.Add(new IPEndPoint(ip, port));
                continue;
            }

            IPAddress[] addresses;
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new BrokerConnectionException($"Cannot resolve gateway host '{host}': {ex.Message}", ex);
            }

            IPAddress? chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            if (chosen is null)
            {
                throw new BrokerConnectionException($"Gateway host '{host}' resolves to no address.");
            }

            result.Add(new IPEndPoint(chosen, port));
        }

        return [.. result];
    }
}
