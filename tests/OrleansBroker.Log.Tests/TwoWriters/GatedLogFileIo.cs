using OrleansBroker.Log.Storage;

namespace OrleansBroker.Log.Tests.TwoWriters;

/// <summary>
/// A segment write path with explicit wait points: <see cref="HoldNextWrite"/> makes the next write stop after half its bytes until
/// <see cref="Release"/>; <see cref="FailNextWrite"/> makes it write some bytes and then throw.
/// </summary>
internal sealed class GatedLogFileIo : ILogFileIo
{
    private TaskCompletionSource? _gate;
    private TaskCompletionSource? _reached;
    private (IOException Error, int Bytes)? _failure;

    /// <summary>Arms the next write to stop half way; the task completes when it got there.</summary>
    public Task HoldNextWrite()
    {
        _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _reached.Task;
    }

    /// <summary>Lets the held write finish.</summary>
    public void Release() => _gate?.TrySetResult();

    /// <summary>Arms the next write to hand <paramref name="bytes"/> bytes to the file and then throw <paramref name="error"/>.</summary>
    public void FailNextWrite(IOException error, int bytes) => _failure = (error, bytes);

    public async ValueTask WriteAsync(FileStream segment, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (_failure is { } failure)
        {
            _failure = null;
            await segment.WriteAsync(bytes[..failure.Bytes], cancellationToken);
            segment.Flush();
            throw failure.Error;
        }

        if (_gate is { } gate)
        {
            int half = bytes.Length / 2;
            await segment.WriteAsync(bytes[..half], cancellationToken);
            segment.Flush();
            _reached!.TrySetResult();
            await gate.Task;
            _gate = null;
            await segment.WriteAsync(bytes[half..], cancellationToken);
            segment.Flush();
            return;
        }

        await DefaultLogFileIo.Instance.WriteAsync(segment, bytes, cancellationToken);
    }

    public void FlushToDisk(FileStream segment) => DefaultLogFileIo.Instance.FlushToDisk(segment);
}
