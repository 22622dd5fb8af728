using System.Buffers;
using System.Buffers.Binary;

namespace OrleansBroker.Protocol;

/// <summary>
/// Encodes records into one uncompressed Kafka record batch (magic v2), the way a Kafka producer's
/// accumulator does: records are appended until the batch is full, then the batch is sealed with the
/// producer id, epoch and base sequence, and its CRC-32C is computed once.
/// </summary>
/// <remarks>
/// Not thread-safe. A sealed builder cannot take more records. Records are written straight into one
/// growable buffer that the builder owns and keeps across <see cref="Reset"/>, so appending allocates only
/// when the buffer has to grow. Given an <see cref="ArrayPool{T}"/>, the builder rents its buffer there, gives the
/// outgrown one back, and gives the last one back on <see cref="ReturnBuffer"/>: batch-sized buffers (often past the
/// 85,000-byte large-object threshold) are then reused across builders instead of collected with gen2.
/// </remarks>
public sealed class RecordBatchBuilder
{
    private const int MinInitialCapacity = 256;
    private const int MaxInitialCapacity = 16 * 1024;

    private readonly int _maxBatchBytes;
    private readonly ArrayPool<byte>? _pool;
    private byte[] _buffer;
    private bool _returned;
    private int _position;
    private int _recordCount;
    private long _baseTimestamp;
    private long _maxTimestamp;
    private bool _sealed;

    /// <summary>Creates an empty builder.</summary>
    /// <param name="maxBatchBytes">Largest batch in bytes (Kafka's <c>batch.size</c>); a first record larger than this is still accepted alone.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchBytes"/> is 0 or negative.</exception>
    public RecordBatchBuilder(int maxBatchBytes)
        : this(maxBatchBytes, null)
    {
    }

    /// <summary>Creates an empty builder whose buffers come from <paramref name="pool"/>.</summary>
    /// <param name="maxBatchBytes">Largest batch in bytes (Kafka's <c>batch.size</c>); a first record larger than this is still accepted alone.</param>
    /// <param name="pool">Where buffers are rented and returned; <c>null</c>: plain arrays, left to the GC.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchBytes"/> is 0 or negative.</exception>
    public RecordBatchBuilder(int maxBatchBytes, ArrayPool<byte>? pool)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchBytes);
        _maxBatchBytes = maxBatchBytes;
        _pool = pool;
        int initial = Math.Clamp(maxBatchBytes, MinInitialCapacity, MaxInitialCapacity);
        _buffer = pool?.Rent(initial) ?? new byte[initial];
        _position = RecordBatchHeader.Size;
    }

    /// <summary>Records added so far.</summary>
    public int RecordCount => _recordCount;

    /// <summary>Bytes the sealed batch would take now, header included (61 while empty).</summary>
    public int SizeInBytes => _position;

    /// <summary>Timestamp of the first record, ms since the Unix epoch; 0 while empty.</summary>
    public long BaseTimestamp => _baseTimestamp;

    /// <summary>Largest record timestamp so far, ms since the Unix epoch; 0 while empty.</summary>
    public long MaxTimestamp => _maxTimestamp;

    /// <summary>True after <see cref="Seal"/> until <see cref="Reset"/>.</summary>
    public bool IsSealed => _sealed;

    /// <summary>
    /// Appends a record if it fits: always when the builder is empty, otherwise while the batch stays within
    /// the size given to the constructor.
    /// </summary>
    /// <param name="timestamp">CreateTime in ms since the Unix epoch.</param>
    /// <param name="key">Key bytes; ignored when <paramref name="keyIsNull"/>.</param>
    /// <param name="keyIsNull">Write a null key (length -1), distinct from an empty one.</param>
    /// <param name="value">Value bytes; ignored when <paramref name="valueIsNull"/>.</param>
    /// <param name="valueIsNull">Write a null value (a tombstone, length -1).</param>
    /// <param name="headers">Headers, or <c>null</c> for none. Header keys are written as UTF-8.</param>
    /// <returns>False when the record does not fit; the builder is unchanged.</returns>
    /// <exception cref="InvalidOperationException">The builder was sealed.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was returned (<see cref="ReturnBuffer"/>).</exception>
    /// <exception cref="ArgumentException">A header or header key is null, or a lone record would exceed the largest array.</exception>
    public bool TryAppend(long timestamp, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, IReadOnlyList<RecordHeader>? headers)
    {
        ObjectDisposedException.ThrowIf(_returned, this);
        if (_sealed)
        {
            throw new InvalidOperationException("The batch was sealed; call Reset before appending again.");
        }

        long baseTimestamp = _recordCount == 0 ? timestamp : _baseTimestamp;
        long timestampDelta = timestamp - baseTimestamp;
        int keyLength = keyIsNull ? -1 : key.Length;
        int valueLength = valueIsNull ? -1 : value.Length;
        long bodySize = RecordCodec.SizeOfRecordBody(timestampDelta, _recordCount, keyLength, valueLength, headers);
        if (bodySize > int.MaxValue)
        {
            throw new ArgumentException($"A record of {bodySize} bytes cannot be encoded.", nameof(value));
        }

        long newSize = _position + (long)RecordCodec.SizeOfVarint((int)bodySize) + bodySize;
        if (_recordCount > 0 && newSize > _maxBatchBytes)
        {
            return false;
        }

        if (newSize > Array.MaxLength)
        {
            throw new ArgumentException($"A batch of {newSize} bytes cannot be held in one array.", nameof(value));
        }

        EnsureCapacity((int)newSize);
        _position += RecordCodec.WriteRecord(_buffer.AsSpan(_position), (int)bodySize, timestampDelta, _recordCount, key, keyIsNull, value, valueIsNull, headers);
        if (_recordCount == 0)
        {
            _baseTimestamp = timestamp;
            _maxTimestamp = timestamp;
        }
        else if (timestamp > _maxTimestamp)
        {
            _maxTimestamp = timestamp;
        }

        _recordCount++;
        return true;
    }

    /// <summary>
    /// Seals the batch like <see cref="Seal"/> but without copying it: the result is the builder's own buffer, valid until
    /// <see cref="Reset"/> (or the builder is used again), so a caller that keeps the bytes (in flight, for retries) keeps the builder.
    /// </summary>
    /// <param name="producerId">Producer id, or <see cref="RecordBatchHeader.NoProducerId"/> without idempotence.</param>
    /// <param name="producerEpoch">Producer epoch, or <see cref="RecordBatchHeader.NoProducerEpoch"/>.</param>
    /// <param name="baseSequence">Sequence of the first record, or <see cref="RecordBatchHeader.NoSequence"/>.</param>
    /// <returns>The sealed batch (header, records, CRC-32C), as a slice of the builder's buffer.</returns>
    /// <exception cref="InvalidOperationException">The builder holds no record.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was returned (<see cref="ReturnBuffer"/>).</exception>
    public Memory<byte> SealInPlace(long producerId, short producerEpoch, int baseSequence)
    {
        ObjectDisposedException.ThrowIf(_returned, this);
        if (_recordCount == 0)
        {
            throw new InvalidOperationException("Cannot seal a batch without records.");
        }

        Span<byte> batch = _buffer.AsSpan(0, _position);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.BaseOffsetOffset..], 0);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.BatchLengthOffset..], _position - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.PartitionLeaderEpochOffset..], 0);
        batch[RecordBatchHeader.MagicOffset] = (byte)RecordBatchHeader.CurrentMagic;
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..], 0);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.LastOffsetDeltaOffset..], _recordCount - 1);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.BaseTimestampOffset..], _baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..], _maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.ProducerEpochOffset..], producerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.BaseSequenceOffset..], baseSequence);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.RecordCountOffset..], _recordCount);
        uint crc = Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..]);
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], crc);
        _sealed = true;
        return _buffer.AsMemory(0, _position);
    }

    /// <summary>
    /// Writes the header (base offset 0, partition leader epoch 0, magic 2, attributes 0 / CreateTime) and the CRC,
    /// and returns the batch bytes. The builder can then be reused after <see cref="Reset"/>.
    /// </summary>
    /// <param name="producerId">PID, or -1 without idempotence.</param>
    /// <param name="producerEpoch">Producer epoch, or -1.</param>
    /// <param name="baseSequence">Sequence of the first record, or -1.</param>
    /// <returns>A new array holding exactly one batch.</returns>
    /// <remarks>
    /// The producer fields are written as given: a PID with a negative epoch or sequence yields a batch that
    /// <see cref="RecordBatch.Validate"/> refuses with <see cref="BatchFormatError.InvalidHeader"/>.
    /// Sealing again (before <see cref="Reset"/>) rewrites the header with the new producer fields.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The builder holds no record.</exception>
    public byte[] Seal(long producerId, short producerEpoch, int baseSequence) => SealInPlace(producerId, producerEpoch, baseSequence).ToArray();

    /// <summary>Empties the builder for the next batch; keeps its buffer. Call it only when nothing reads the sealed batch's bytes any more.</summary>
    public void Reset()
    {
        _position = RecordBatchHeader.Size;
        _recordCount = 0;
        _baseTimestamp = 0;
        _maxTimestamp = 0;
        _sealed = false;
    }

    /// <summary>
    /// Gives the buffer back to the pool given to the constructor (nothing without one); the builder cannot be used afterwards. Call it
    /// only when nothing reads the bytes of a batch this builder sealed any more.
    /// </summary>
    public void ReturnBuffer()
    {
        if (_returned)
        {
            return;
        }

        _returned = true;
        byte[] buffer = _buffer;
        _buffer = [];
        _pool?.Return(buffer);
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _buffer.Length)
        {
            return;
        }

        int newLength = (int)Math.Min(Array.MaxLength, Math.Max((long)_buffer.Length * 2, needed));
        byte[] grown = _pool?.Rent(newLength) ?? new byte[newLength];
        _buffer.AsSpan(0, _position).CopyTo(grown);
        byte[] outgrown = _buffer;
        _buffer = grown;

        // Appending overwrites the buffer anyway: once a sealed batch was Reset, nothing reads its bytes (Reset's contract).
        _pool?.Return(outgrown);
    }
}
