using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace OrleansBroker.Testing;

/// <summary>
/// Makes record values self-describing: the value starts with the record id <c>producer:sequence</c> and a
/// <c>|</c> terminator in UTF-8, then filler up to the chosen record size. For example producer <c>p3</c>, sequence 123,
/// 20 bytes: <c>p3:000000123|abcdefg</c>.
/// </summary>
/// <remarks>
/// The sequence is written with at least <see cref="SequenceDigits"/> digits, so ids sort in send order per producer.
/// The filler is the repeating pattern <c>a..z</c> (indexed by the byte's position in the value), so a value's bytes
/// depend only on its id and size. Producer names are non-empty and contain no <c>:</c>, <c>|</c> or control character.
/// </remarks>
public static class RecordIdCodec
{
    /// <summary>The character between producer and sequence.</summary>
    public const char Separator = ':';

    /// <summary>The byte ending the id in a value.</summary>
    public const byte Terminator = (byte)'|';

    /// <summary>The minimum number of digits of the sequence (zero-padded).</summary>
    public const int SequenceDigits = 9;

    /// <summary>Formats the record id <c>producer:sequence</c>, the sequence zero-padded to <see cref="SequenceDigits"/>.</summary>
    /// <param name="producer">The producer's name.</param>
    /// <param name="sequence">The record's sequence within the producer (0 or more).</param>
    /// <returns>For example <c>p3:000000123</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="producer"/> is empty or contains <c>:</c>, <c>|</c> or a
    /// control character; <paramref name="sequence"/> is negative.</exception>
    public static string FormatId(string producer, long sequence)
    {
        ValidateProducer(producer);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        // D9 = SequenceDigits.
        return string.Create(CultureInfo.InvariantCulture, $"{producer}{Separator}{sequence:D9}");
    }

    /// <summary>Returns the smallest value size (bytes) that holds the id and its terminator.</summary>
    /// <param name="producer">The producer's name.</param>
    /// <param name="sequence">The sequence.</param>
    /// <returns>UTF-8 bytes of <see cref="FormatId"/> plus 1.</returns>
    /// <exception cref="ArgumentException">As for <see cref="FormatId"/>.</exception>
    public static int MinimumSize(string producer, long sequence) => Encoding.UTF8.GetByteCount(FormatId(producer, sequence)) + 1;

    /// <summary>Encodes a value of exactly <paramref name="recordSize"/> bytes carrying the record id.</summary>
    /// <param name="producer">The producer's name.</param>
    /// <param name="sequence">The sequence.</param>
    /// <param name="recordSize">The value size in bytes; at least <see cref="MinimumSize"/>.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ArgumentException">As for <see cref="FormatId"/>, or <paramref name="recordSize"/> is below
    /// <see cref="MinimumSize"/>.</exception>
    public static byte[] Encode(string producer, long sequence, int recordSize)
    {
        var minimum = MinimumSize(producer, sequence);
        if (recordSize < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(recordSize), recordSize, $"The id needs at least {minimum} bytes.");
        }

        var value = new byte[recordSize];
        Encode(producer, sequence, value);
        return value;
    }

    /// <summary>Fills <paramref name="destination"/> (the whole span) with a value carrying the record id.</summary>
    /// <param name="producer">The producer's name.</param>
    /// <param name="sequence">The sequence.</param>
    /// <param name="destination">The value's bytes; its length is the record size, at least <see cref="MinimumSize"/>.</param>
    /// <returns>The number of bytes of the id including the terminator.</returns>
    /// <exception cref="ArgumentException">As for <see cref="FormatId"/>, or <paramref name="destination"/> is too short.</exception>
    public static int Encode(string producer, long sequence, Span<byte> destination)
    {
        var id = FormatId(producer, sequence);
        var idBytes = Encoding.UTF8.GetByteCount(id);
        if (destination.Length < idBytes + 1)
        {
            throw new ArgumentException($"The id needs at least {idBytes + 1} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        Encoding.UTF8.GetBytes(id, destination);
        destination[idBytes] = Terminator;
        for (var i = idBytes + 1; i < destination.Length; i++)
        {
            destination[i] = (byte)('a' + (i % 26));
        }

        return idBytes + 1;
    }

    /// <summary>Parses the producer and sequence from a value written by <see cref="Encode(string, long, int)"/>.</summary>
    /// <param name="value">The record value (a null value, a tombstone, arrives as an empty span).</param>
    /// <param name="producer">The producer's name, or empty when parsing failed.</param>
    /// <param name="sequence">The sequence, or -1 when parsing failed.</param>
    /// <returns>True when the value starts with <c>producer:digits|</c> (valid UTF-8, a valid producer name).</returns>
    public static bool TryParse(ReadOnlySpan<byte> value, out string producer, out long sequence)
    {
        producer = string.Empty;
        sequence = -1;
        if (!TrySplit(value, out var producerBytes, out var digits)
            || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            return false;
        }

        var name = Encoding.UTF8.GetString(producerBytes);
        if (!IsValidProducer(name))
        {
            return false;
        }

        producer = name;
        sequence = parsed;
        return true;
    }

    /// <summary>Returns the record id at the start of a value exactly as written (<c>producer:digits</c>), or null when
    /// the value does not start with one; ready for <see cref="ObservedRecord.RecordId"/>.</summary>
    /// <param name="value">The record value.</param>
    /// <returns>The id, or null.</returns>
    public static string? ParseRecordId(ReadOnlySpan<byte> value)
    {
        if (!TrySplit(value, out var producerBytes, out var digits)
            || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return null;
        }

        var id = Encoding.UTF8.GetString(value[..(producerBytes.Length + 1 + digits.Length)]);
        return IsValidProducer(id.AsSpan(0, id.IndexOf(Separator, StringComparison.Ordinal))) ? id : null;
    }

    private static bool TrySplit(ReadOnlySpan<byte> value, out ReadOnlySpan<byte> producer, out ReadOnlySpan<byte> digits)
    {
        producer = default;
        digits = default;
        var end = value.IndexOf(Terminator);
        if (end <= 0)
        {
            return false;
        }

        var id = value[..end];
        var colon = id.IndexOf((byte)Separator);
        if (colon <= 0 || colon == id.Length - 1 || !Utf8.IsValid(id))
        {
            return false;
        }

        digits = id[(colon + 1)..];
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
        }

        producer = id[..colon];
        return true;
    }

    private static void ValidateProducer(string producer)
    {
        ArgumentException.ThrowIfNullOrEmpty(producer);
        if (!IsValidProducer(producer))
        {
            throw new ArgumentException($"Producer name '{producer}' may not contain '{Separator}', '|' or control characters.", nameof(producer));
        }
    }

    private static bool IsValidProducer(ReadOnlySpan<char> producer)
    {
        if (producer.IsEmpty)
        {
            return false;
        }

        foreach (var c in producer)
        {
            if (c == Separator || c == (char)Terminator || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }
}
