using Azure.Storage.Blobs.Specialized;

namespace OrleansBroker.Storage.AzureBlob.Internal;

/// <summary>One segment blob as the store knows it: where it starts, how many of its bytes are valid, and its sparse index once loaded.</summary>
internal sealed class Segment(long baseOffset, AppendBlobClient blob)
{
    /// <summary>Offset of the segment's first batch (also the blob's name).</summary>
    public long BaseOffset { get; } = baseOffset;

    /// <summary>The segment's append blob.</summary>
    public AppendBlobClient Blob { get; } = blob;

    /// <summary>Valid bytes: the blob's length, or its <c>validlength</c> metadata when recovery cut a torn tail.</summary>
    public long Length { get; set; }

    /// <summary>Offset after the segment's last batch (the next segment's base offset, or the log end offset for the active one).</summary>
    public long NextOffset { get; set; }

    /// <summary>The sparse offset index; <c>null</c> until loaded or built.</summary>
    public SparseIndex? Index { get; set; }
}
