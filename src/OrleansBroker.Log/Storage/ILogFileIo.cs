namespace OrleansBroker.Log.Storage;

/// <summary>
/// The two operations of the segment write path, behind an internal seam so tests can inject I/O faults (a write that fails
/// half way, a disk that is full, an fsync that fails). Production uses <see cref="DefaultLogFileIo"/>.
/// </summary>
internal interface ILogFileIo
{
    /// <summary>Writes <paramref name="bytes"/> at the stream's position and hands them to the OS (no fsync).</summary>
    ValueTask WriteAsync(FileStream segment, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>Makes everything written to <paramref name="segment"/> durable (fsync).</summary>
    void FlushToDisk(FileStream segment);
}

/// <summary>The real write path: <see cref="FileStream.WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, <see cref="FileStream.Flush()"/> and <c>Flush(flushToDisk: true)</c>.</summary>
internal sealed class DefaultLogFileIo : ILogFileIo
{
    public static readonly DefaultLogFileIo Instance = new();

    public async ValueTask WriteAsync(FileStream segment, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await segment.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        segment.Flush();
    }

    public void FlushToDisk(FileStream segment) => segment.Flush(flushToDisk: true);
}
