using System.Numerics;
using System.Text;

namespace OrleansBroker.Protocol;

/// <summary>
/// Varint and record-level encoding of Kafka's record format v2 (zigzag varints, as in protobuf), following
/// <c>org.apache.kafka.common.record.DefaultRecord</c> and <c>org.apache.kafka.common.utils.ByteUtils</c>.
/// </summary>
/// <remarks>
/// A record is: <c>length</c> varint (bytes after it), <c>attributes</c> int8, <c>timestampDelta</c> varlong,
/// <c>offsetDelta</c> varint, <c>keyLength</c> varint (-1 = null) + key, <c>valueLength</c> varint (-1 = null) + value,
/// <c>headerCount</c> varint, and per header <c>keyLength</c> varint + UTF-8 key, <c>valueLength</c> varint (-1 = null) + value.
/// Every reader here works on a span and returns false instead of reading past its end: it is safe on hostile bytes.
/// </remarks>
internal static class RecordCodec
{
    /// <summary>Longest encoding of a 32-bit varint, in bytes.</summary>
    public const int MaxVarintBytes = 5;

    /// <summary>Longest encoding of a 64-bit varlong, in bytes.</summary>
    public const int MaxVarlongBytes = 10;

    /// <summary>
    /// Smallest record body: attributes, timestampDelta, offsetDelta, keyLength, valueLength and headerCount of one byte each.
    /// </summary>
    public const int MinRecordBodyBytes = 6;

    /// <summary>Zigzag-encodes a 32-bit value: 0, -1, 1, -2 … map to 0, 1, 2, 3 ….</summary>
    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    /// <summary>Zigzag-encodes a 64-bit value.</summary>
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    /// <summary>Undoes <see cref="ZigZag(int)"/>.</summary>
    public static int UnZigZag(uint value) => (int)(value >> 1) ^ -(int)(value & 1);

    /// <summary>Undoes <see cref="ZigZag(long)"/>.</summary>
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    /// <summary>Bytes the zigzag varint of <paramref name="value"/> takes (1–5).</summary>
    public static int SizeOfVarint(int value) => ((32 - BitOperations.LeadingZeroCount(ZigZag(value) | 1)) + 6) / 7;

    /// <summary>Bytes the zigzag varlong of <paramref name="value"/> takes (1–10).</summary>
    public static int SizeOfVarlong(long value) => ((64 - BitOperations.LeadingZeroCount(ZigZag(value) | 1)) + 6) / 7;

    /// <summary>Writes a zigzag varint.</summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteVarint(Span<byte> destination, int value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>Writes a zigzag varlong.</summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteVarlong(Span<byte> destination, long value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>
    /// Reads a zigzag varint at <paramref name="position"/> and moves past it. Refuses an encoding longer than
    /// 5 bytes or one whose fifth byte carries bits beyond 32.
    /// </summary>
    /// <returns>False when the bytes end first or the encoding is too long; <paramref name="position"/> is then unspecified.</returns>
    public static bool TryReadVarint(ReadOnlySpan<byte> source, ref int position, out int value)
    {
        uint result = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            if ((uint)position >= (uint)source.Length)
            {
                break;
            }

            byte b = source[position++];
            if (shift == 28 && b > 0x0F)
            {
                break;
            }

            result |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                value = UnZigZag(result);
                return true;
            }
        }

        value = 0;
        return false;
    }

    /// <summary>
    /// Reads a zigzag varlong at <paramref name="position"/> and moves past it. Refuses an encoding longer than
    /// 10 bytes or one whose tenth byte carries bits beyond 64.
    /// </summary>
    /// <returns>False when the bytes end first or the encoding is too long.</returns>
    public static bool TryReadVarlong(ReadOnlySpan<byte> source, ref int position, out long value)
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if ((uint)position >= (uint)source.Length)
            {
                break;
            }

            byte b = source[position++];
            if (shift == 63 && b > 0x01)
            {
                break;
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                value = UnZigZag(result);
                return true;
            }
        }

        value = 0;
        return false;
    }

    /// <summary>
    /// Size of a record body (everything after its length varint), in bytes. Returned as a long so that
    /// absurd inputs cannot overflow; callers check it against their limits.
    /// </summary>
    /// <param name="timestampDelta">ms from the batch's base timestamp.</param>
    /// <param name="offsetDelta">Position of the record in its batch.</param>
    /// <param name="keyLength">Key length in bytes, or -1 for a null key.</param>
    /// <param name="valueLength">Value length in bytes, or -1 for a null value.</param>
    /// <param name="headers">Headers, or null for none.</param>
    /// <exception cref="ArgumentException">A header or its key is null.</exception>
    public static long SizeOfRecordBody(long timestampDelta, int offsetDelta, int keyLength, int valueLength, IReadOnlyList<RecordHeader>? headers)
    {
        long size = 1 + SizeOfVarlong(timestampDelta) + SizeOfVarint(offsetDelta)
            + SizeOfVarint(keyLength) + Math.Max(keyLength, 0)
            + SizeOfVarint(valueLength) + Math.Max(valueLength, 0);
        int headerCount = headers?.Count ?? 0;
        size += SizeOfVarint(headerCount);
        for (int i = 0; i < headerCount; i++)
        {
            RecordHeader header = headers![i] ?? throw new ArgumentException($"Header {i} is null.", nameof(headers));
            if (header.Key is null)
            {
                throw new ArgumentException($"Header {i} has a null key.", nameof(headers));
            }

            int keyBytes = Encoding.UTF8.GetByteCount(header.Key);
            int valueBytes = header.Value?.Length ?? -1;
            size += SizeOfVarint(keyBytes) + keyBytes + SizeOfVarint(valueBytes) + Math.Max(valueBytes, 0);
        }

        return size;
    }

    /// <summary>Writes one record: its length varint followed by a body of <paramref name="bodySize"/> bytes.</summary>
    /// <param name="destination">Room for <c>SizeOfVarint(bodySize) + bodySize</c> bytes.</param>
    /// <param name="bodySize">The value <see cref="SizeOfRecordBody"/> returned for the same arguments.</param>
    /// <param name="timestampDelta">ms from the batch's base timestamp.</param>
    /// <param name="offsetDelta">Position of the record in its batch.</param>
    /// <param name="key">Key bytes; ignored when <paramref name="keyIsNull"/>.</param>
    /// <param name="keyIsNull">Write length -1.</param>
    /// <param name="value">Value bytes; ignored when <paramref name="valueIsNull"/>.</param>
    /// <param name="valueIsNull">Write length -1 (a tombstone).</param>
    /// <param name="headers">Headers, or null for none.</param>
    /// <returns>Bytes written.</returns>
    public static int WriteRecord(
        Span<byte> destination,
        int bodySize,
        long timestampDelta,
        int offsetDelta,
        ReadOnlySpan<byte> key,
        bool keyIsNull,
        ReadOnlySpan<byte> value,
        bool valueIsNull,
        IReadOnlyList<RecordHeader>? headers)
    {
        int pos = WriteVarint(destination, bodySize);
        destination[pos++] = 0; // record attributes: unused in v2
        pos += WriteVarlong(destination[pos..], timestampDelta);
        pos += WriteVarint(destination[pos..], offsetDelta);
        pos += WriteBytes(destination[pos..], key, keyIsNull);
        pos += WriteBytes(destination[pos..], value, valueIsNull);
        int headerCount = headers?.Count ?? 0;
        pos += WriteVarint(destination[pos..], headerCount);
        for (int i = 0; i < headerCount; i++)
        {
            RecordHeader header = headers![i];
            int keyBytes = Encoding.UTF8.GetByteCount(header.Key);
            pos += WriteVarint(destination[pos..], keyBytes);
            pos += Encoding.UTF8.GetBytes(header.Key, destination[pos..]);
            pos += WriteBytes(destination[pos..], header.Value, header.Value is null);
        }

        return pos;
    }

    /// <summary>
    /// Parses the record that starts at <paramref name="position"/> and moves past it. The body is read only
    /// within the bytes its length prefix names, and must use exactly those bytes.
    /// </summary>
    /// <param name="records">The records section of a batch.</param>
    /// <param name="position">Where the record's length varint starts; on success, where the next record starts.</param>
    /// <param name="layout">Where the parts of the record are, relative to <paramref name="records"/>.</param>
    /// <returns>False when the record is malformed or runs past the end of <paramref name="records"/>.</returns>
    public static bool TryReadRecord(ReadOnlySpan<byte> records, ref int position, out RecordLayout layout)
    {
        layout = default;
        int pos = position;
        if (!TryReadVarint(records, ref pos, out int length)
            || length < MinRecordBodyBytes
            || length > records.Length - pos)
        {
            return false;
        }

        int end = pos + length;
        ReadOnlySpan<byte> body = records[..end];
        pos++; // attributes; length >= MinRecordBodyBytes guarantees the byte exists
        if (!TryReadVarlong(body, ref pos, out long timestampDelta)
            || !TryReadVarint(body, ref pos, out int offsetDelta)
            || !TryReadBytes(body, ref pos, out int keyOffset, out int keyLength)
            || !TryReadBytes(body, ref pos, out int valueOffset, out int valueLength)
            || !TryReadVarint(body, ref pos, out int headerCount)
            || headerCount < 0)
        {
            return false;
        }

        int headersOffset = pos;
        for (int i = 0; i < headerCount; i++)
        {
            if (!TryReadVarint(body, ref pos, out int headerKeyLength)
                || headerKeyLength < 0
                || headerKeyLength > body.Length - pos)
            {
                return false;
            }

            pos += headerKeyLength;
            if (!TryReadBytes(body, ref pos, out _, out _))
            {
                return false;
            }
        }

        if (pos != end)
        {
            return false;
        }

        layout = new RecordLayout(timestampDelta, offsetDelta, keyOffset, keyLength, valueOffset, valueLength, headersOffset, headerCount);
        position = end;
        return true;
    }

    /// <summary>
    /// Reads one header of a record that <see cref="TryReadRecord"/> accepted, and moves past it.
    /// </summary>
    /// <returns>False when the header is malformed (cannot happen after <see cref="TryReadRecord"/> succeeded).</returns>
    public static bool TryReadHeader(ReadOnlySpan<byte> records, ref int position, out int keyOffset, out int keyLength, out int valueOffset, out int valueLength)
    {
        valueOffset = 0;
        valueLength = -1;
        if (!TryReadBytes(records, ref position, out keyOffset, out keyLength) || keyLength < 0)
        {
            return false;
        }

        return TryReadBytes(records, ref position, out valueOffset, out valueLength);
    }

    /// <summary>
    /// Walks the records section and returns true when it holds exactly <paramref name="expectedCount"/>
    /// records whose length prefixes match their contents and nothing is left over. Record <c>i</c> must carry
    /// offset delta <c>i</c>, as every producer writes it (the broker derives record offsets from it).
    /// Never throws and never reads outside <paramref name="records"/>.
    /// </summary>
    public static bool TryCountRecords(ReadOnlySpan<byte> records, int expectedCount)
    {
        if (expectedCount < 0)
        {
            return false;
        }

        int position = 0;
        for (int i = 0; i < expectedCount; i++)
        {
            if (!TryReadRecord(records, ref position, out RecordLayout layout) || layout.OffsetDelta != i)
            {
                return false;
            }
        }

        return position == records.Length;
    }

    private static int WriteUnsigned(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    private static int WriteBytes(Span<byte> destination, ReadOnlySpan<byte> bytes, bool isNull)
    {
        if (isNull)
        {
            return WriteVarint(destination, -1);
        }

        int pos = WriteVarint(destination, bytes.Length);
        bytes.CopyTo(destination[pos..]);
        return pos + bytes.Length;
    }

    /// <summary>Reads a varint length (-1 = null) and skips that many bytes.</summary>
    private static bool TryReadBytes(ReadOnlySpan<byte> source, ref int position, out int offset, out int length)
    {
        offset = 0;
        if (!TryReadVarint(source, ref position, out length) || length < -1)
        {
            return false;
        }

        offset = position;
        if (length > 0)
        {
            if (length > source.Length - position)
            {
                return false;
            }

            position += length;
        }

        return true;
    }
}

/// <summary>Where the parts of one parsed record are, as offsets into the records section.</summary>
/// <param name="TimestampDelta">ms from the batch's base timestamp.</param>
/// <param name="OffsetDelta">Offset from the batch's base offset.</param>
/// <param name="KeyOffset">Start of the key bytes.</param>
/// <param name="KeyLength">Key length, -1 for null.</param>
/// <param name="ValueOffset">Start of the value bytes.</param>
/// <param name="ValueLength">Value length, -1 for null.</param>
/// <param name="HeadersOffset">Start of the first header (after the header count).</param>
/// <param name="HeaderCount">Number of headers.</param>
internal readonly record struct RecordLayout(
    long TimestampDelta,
    int OffsetDelta,
    int KeyOffset,
    int KeyLength,
    int ValueOffset,
    int ValueLength,
    int HeadersOffset,
    int HeaderCount);
