using Azure.Core;
using Azure.Core.Pipeline;

namespace OrleansBroker.AzureStorage.Tests.Infrastructure;

/// <summary>An Azure SDK pipeline policy that counts the requests a client sends and the bytes its downloads return.</summary>
public sealed class RequestCounter : HttpPipelineSynchronousPolicy
{
    private int _gets;
    private long _downloadedBytes;

    /// <summary>GET requests sent (downloads and listings).</summary>
    public int Gets => Volatile.Read(ref _gets);

    /// <summary>Bytes of blob content returned by GET requests (the Content-Length of their responses, listings included).</summary>
    public long DownloadedBytes => Interlocked.Read(ref _downloadedBytes);

    /// <summary>Starts counting from zero.</summary>
    public void Reset()
    {
        Volatile.Write(ref _gets, 0);
        Interlocked.Exchange(ref _downloadedBytes, 0);
    }

    public override void OnReceivedResponse(HttpMessage message)
    {
        if (message.Request.Method == RequestMethod.Get)
        {
            Interlocked.Increment(ref _gets);
            if (message.Response.Headers.ContentLengthLong is long length)
            {
                Interlocked.Add(ref _downloadedBytes, length);
            }
        }
    }
}
