using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace OrleansBroker.Storage.AzureBlob.Internal;

/// <summary>
/// Reads a byte range of one blob through ranged downloads of at least <c>chunkBytes</c>, keeping the last chunk, so walking
/// batch headers costs one request per chunk rather than one per batch.
/// </summary>
internal sealed class BlobRangeReader(BlobBaseClient blob, long end, int chunkBytes)
{
    private ReadOnlyMemory<byte> _buffer;
    private long _bufferStart;

    /// <summary>End of the readable range (exclusive), in bytes.</summary>
    public long End => end;

    /// <summary>Makes [<paramref name="position"/>, <paramref name="position"/> + <paramref name="count"/>) readable.</summary>
    /// <param name="position">First byte.</param>
    /// <param name="count">Bytes needed.</param>
    /// <param name="cancellationToken">Cancels the download.</param>
    /// <returns>False when the range passes <see cref="End"/>.</returns>
    /// <exception cref="RequestFailedException">The download failed.</exception>
    /// <exception cref="InvalidDataException">The blob is shorter than the range the store knows it has.</exception>
    public async ValueTask<bool> EnsureAsync(long position, int count, CancellationToken cancellationToken)
    {
        if (position < 0 || count < 0 || position + count > end)
        {
            return false;
        }

        if (position >= _bufferStart && position + count <= _bufferStart + _buffer.Length)
        {
            return true;
        }

        long length = Math.Max(count, Math.Min(chunkBytes, end - position));
        var response = await blob.DownloadContentAsync(
            new BlobDownloadOptions { Range = new HttpRange(position, length) },
            cancellationToken);
        var content = response.Value.Content.ToMemory();
        if (content.Length < length)
        {
            throw new InvalidDataException($"Blob '{blob.Name}' returned {content.Length} bytes at position {position}; {length} were expected.");
        }

        _buffer = content[..(int)length];
        _bufferStart = position;
        return true;
    }

    /// <summary>The bytes of a range made readable by <see cref="EnsureAsync"/>.</summary>
    /// <param name="position">First byte.</param>
    /// <param name="count">Bytes.</param>
    /// <returns>A slice of the downloaded chunk (not copied).</returns>
    public ReadOnlyMemory<byte> Slice(long position, int count) => _buffer.Slice((int)(position - _bufferStart), count);
}
