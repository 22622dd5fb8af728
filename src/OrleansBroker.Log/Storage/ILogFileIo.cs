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

/// <summary>
/// The real write path: a synchronous <see cref="FileStream.Write(ReadOnlySpan{byte})"/> (one <c>pwrite</c> into the page cache, on the
/// calling thread), <see cref="FileStream.Flush()"/> and <c>Flush(flushToDisk: true)</c>.
/// </summary>
/// <remarks>
/// The segment is opened without <see cref="FileOptions.Asynchronous"/>, so <c>WriteAsync</c> would only queue the same <c>pwrite</c> to a
/// thread-pool thread and come back: two thread switches per batch for a copy into the page cache that takes about as long (profiled:
/// the hop showed as SafeFileHandle.ThreadPoolValueTaskSource work items on every append). Writing inline keeps the append on the
/// grain's turn; the fsync of the flush policy was already synchronous.
/// </remarks>
internal sealed class DefaultLogFileIo : ILogFileIo
{
    public static readonly DefaultLogFileIo Instance = new();

    public ValueTask WriteAsync(FileStream segment, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        segment.Write(bytes.Span);
        segment.Flush();
        return ValueTask.CompletedTask;
    }

    public void FlushToDisk(FileStream segment) => segment.Flush(flushToDisk: true);
}
