using System.Text;

namespace OrleansBroker.Protocol;

/// <summary>
/// One record of a batch, as slices of the batch's bytes (nothing is copied): what <see cref="RecordBatchReader.EnumerateRecords"/>
/// yields. Key and value are <c>null</c> for a null key or value; headers are decoded only on request (<see cref="ReadHeaders"/>).
/// </summary>
public readonly struct RecordView
{
    private readonly ReadOnlyMemory<byte> _records;
    private readonly int _headersOffset;

    internal RecordView(ReadOnlyMemory<byte> records, long offset, long timestamp, ReadOnlyMemory<byte>? key, ReadOnlyMemory<byte>? value, int headersOffset, int headerCount)
    {
        _records = records;
        Offset = offset;
        Timestamp = timestamp;
        Key = key;
        Value = value;
        _headersOffset = headersOffset;
        HeaderCount = headerCount;
    }

    /// <summary>The record's offset (base offset + offset delta).</summary>
    public long Offset { get; }

    /// <summary>Timestamp in ms since the Unix epoch (the batch's max timestamp for log-append time).</summary>
    public long Timestamp { get; }

    /// <summary>The key bytes, or <c>null</c>.</summary>
    public ReadOnlyMemory<byte>? Key { get; }

    /// <summary>The value bytes, or <c>null</c>.</summary>
    public ReadOnlyMemory<byte>? Value { get; }

    /// <summary>Number of headers.</summary>
    public int HeaderCount { get; }

    /// <summary>Decodes the headers (keys as UTF-8 strings, values copied); an empty array when there are none.</summary>
    /// <returns>The headers, in order.</returns>
    /// <exception cref="InvalidDataException">A header is malformed.</exception>
    public RecordHeader[] ReadHeaders()
    {
        if (HeaderCount == 0)
        {
            return [];
        }

        ReadOnlySpan<byte> records = _records.Span;
        var headers = new RecordHeader[HeaderCount];
        int position = _headersOffset;
        for (int i = 0; i < headers.Length; i++)
        {
            if (!RecordCodec.TryReadHeader(records, ref position, out int keyOffset, out int keyLength, out int valueOffset, out int valueLength))
            {
                throw new InvalidDataException($"Header {i} of a record is malformed.");
            }

            headers[i] = new RecordHeader(
                Encoding.UTF8.GetString(records.Slice(keyOffset, keyLength)),
                valueLength < 0 ? null : records.Slice(valueOffset, valueLength).ToArray());
        }

        return headers;
    }
}

/// <summary>
/// Walks the records of one batch without allocating (<see cref="RecordBatchReader.EnumerateRecords"/>); usable with <c>foreach</c>.
/// Checks each record as <see cref="RecordBatchReader.ReadRecords"/> does.
/// </summary>
public struct RecordEnumerator
{
    private readonly ReadOnlyMemory<byte> _records;
    private readonly RecordBatchHeader _header;
    private int _position;
    private int _index;
    private RecordView _current;

    internal RecordEnumerator(ReadOnlyMemory<byte> records, RecordBatchHeader header)
    {
        _records = records;
        _header = header;
        _position = 0;
        _index = 0;
        _current = default;
    }

    /// <summary>The record at the current position.</summary>
    public readonly RecordView Current => _current;

    /// <summary>Returns this enumerator (for <c>foreach</c>).</summary>
    /// <returns>This enumerator.</returns>
    public readonly RecordEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next record.</summary>
    /// <returns>False after the last record.</returns>
    /// <exception cref="InvalidDataException">A record is malformed or truncated, or bytes follow the announced records.</exception>
    public bool MoveNext()
    {
        ReadOnlySpan<byte> records = _records.Span;
        if (_index == _header.RecordCount)
        {
            if (_position != records.Length)
            {
                throw new InvalidDataException($"The batch at offset {_header.BaseOffset} has {records.Length - _position} bytes after its {_header.RecordCount} records.");
            }

            return false;
        }

        if (!RecordCodec.TryReadRecord(records, ref _position, out RecordLayout layout))
        {
            throw new InvalidDataException($"Record {_index} of {_header.RecordCount} in the batch at offset {_header.BaseOffset} is malformed or truncated.");
        }

        _index++;
        _current = new RecordView(
            _records,
            _header.BaseOffset + layout.OffsetDelta,
            _header.IsLogAppendTime ? _header.MaxTimestamp : _header.BaseTimestamp + layout.TimestampDelta,
            // Not "length < 0 ? null : …": that null converts through byte[] to an empty ReadOnlyMemory, losing null.
            layout.KeyLength < 0 ? default(ReadOnlyMemory<byte>?) : _records.Slice(layout.KeyOffset, layout.KeyLength),
            layout.ValueLength < 0 ? default(ReadOnlyMemory<byte>?) : _records.Slice(layout.ValueOffset, layout.ValueLength),
            layout.HeadersOffset,
            layout.HeaderCount);
        return true;
    }
}
