namespace OrleansBroker.Cli;

/// <summary>
/// Reads a stream as lines of raw bytes split at '\n' (the '\n' is dropped, a '\r' before it is kept), so a file
/// produced line by line and consumed back with one '\n' per value is byte-identical. Streams: never loads the file.
/// </summary>
internal sealed class LineReader(Stream stream, int bufferSize = 1 << 16)
{
    private byte[] _buffer = new byte[bufferSize];
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>Bytes consumed so far, separators included.</summary>
    public long Position { get; private set; }

    /// <summary>The next line's bytes, or <c>null</c> at the end of the stream. A last line without '\n' is returned too.</summary>
    public async ValueTask<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                byte[] line = _buffer.AsSpan(_start, newline).ToArray();
                _start += newline + 1;
                Position += newline + 1;
                return line;
            }

            if (_eof)
            {
                if (_end > _start)
                {
                    byte[] rest = _buffer.AsSpan(_start, _end - _start).ToArray();
                    Position += _end - _start;
                    _start = _end;
                    return rest;
                }

                return null;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _eof = true;
            }
            else
            {
                _end += read;
            }
        }
    }
}
