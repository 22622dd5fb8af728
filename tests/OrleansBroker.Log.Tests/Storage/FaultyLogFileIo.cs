using OrleansBroker.Log.Storage;

namespace OrleansBroker.Log.Tests.Storage;

/// <summary>
/// A segment write path that works until told to fail: the next write hands only the first <see cref="BytesBeforeFailure"/> bytes to
/// the file and then throws <see cref="Failure"/>; an fsync can be made to throw too. <see cref="PauseNextWrite"/> stops a write half way
/// until <see cref="ResumeWrite"/>, to observe a store during an append.
/// </summary>
internal sealed class FaultyLogFileIo : ILogFileIo
{
    private TaskCompletionSource? _pause;
    private TaskCompletionSource? _resume;
    private TaskCompletionSource? _paused;

    public IOException? Failure { get; set; }

    public int BytesBeforeFailure { get; set; }

    public IOException? FsyncFailure { get; set; }

    public int Writes { get; private set; }

    /// <summary>The next write stops after half its bytes; returns a task that completes when it got there.</summary>
    public Task PauseNextWrite()
    {
        _pause = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _resume = _pause;
        _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _paused.Task;
    }

    public void ResumeWrite() => _resume?.TrySetResult();

    public async ValueTask WriteAsync(FileStream segment, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        Writes++;
        if (Failure is { } failure)
        {
            Failure = null;
            await segment.WriteAsync(bytes[..BytesBeforeFailure], cancellationToken);
            segment.Flush();
            throw failure;
        }

        if (_pause is { } pause)
        {
            _pause = null;
            int half = bytes.Length / 2;
            await segment.WriteAsync(bytes[..half], cancellationToken);
            segment.Flush();
            _paused!.TrySetResult();
            await pause.Task;
            await segment.WriteAsync(bytes[half..], cancellationToken);
            segment.Flush();
            return;
        }

        await DefaultLogFileIo.Instance.WriteAsync(segment, bytes, cancellationToken);
    }

    public void FlushToDisk(FileStream segment)
    {
        if (FsyncFailure is { } failure)
        {
            FsyncFailure = null;
            throw failure;
        }

        DefaultLogFileIo.Instance.FlushToDisk(segment);
    }
}
