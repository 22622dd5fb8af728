using System.Buffers;
using System.Runtime.InteropServices;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;

namespace OrleansBroker;

/// <summary>
/// The bytes of one record batch as the argument of <see cref="IPartitionGrain.ProduceAsync"/>. The caller passes any memory (a slice of
/// its own buffer: nothing is copied when the call is made, <see cref="ImmutableAttribute">immutable</see>); the receiving silo reads it
/// into a buffer rented from <see cref="ArrayPool{T}.Shared"/> (<see cref="BatchBytesCodec"/>) and gives that back with
/// <see cref="Return"/> once the batch is stored, so a produce call allocates no batch-sized array on the silo.
/// </summary>
/// <remarks>On the wire: the length as a varint and the bytes (the layout of Orleans' own <c>byte[]</c> codec).</remarks>
[Immutable]
public readonly struct BatchBytes
{
    private readonly byte[]? _rented;

    /// <summary>Wraps <paramref name="memory"/>; the caller keeps it unchanged until the call that carries it has completed.</summary>
    /// <param name="memory">Exactly one batch (Kafka v2 bytes).</param>
    public BatchBytes(ReadOnlyMemory<byte> memory)
    {
        Memory = memory;
        _rented = null;
    }

    private BatchBytes(byte[] rented, int length)
    {
        Memory = rented.AsMemory(0, length);
        _rented = rented;
    }

    /// <summary>The batch.</summary>
    public ReadOnlyMemory<byte> Memory { get; }

    /// <summary>Length in bytes.</summary>
    public int Length => Memory.Length;

    /// <summary>Whether the bytes live in a buffer rented from the shared pool (read from the wire), which <see cref="Return"/> gives back.</summary>
    public bool IsPooled => _rented is not null;

    /// <summary>Wraps a whole array.</summary>
    /// <param name="bytes">Exactly one batch.</param>
    public static implicit operator BatchBytes(byte[] bytes) => new(bytes);

    /// <summary>Wraps memory.</summary>
    /// <param name="memory">Exactly one batch.</param>
    public static implicit operator BatchBytes(ReadOnlyMemory<byte> memory) => new(memory);

    /// <summary>Wraps a whole array (named alternative to the implicit conversion).</summary>
    /// <param name="bytes">Exactly one batch.</param>
    /// <returns>The wrapper.</returns>
    public static BatchBytes FromArray(byte[] bytes) => new(bytes);

    /// <summary>Wraps memory (named alternative to the implicit conversion).</summary>
    /// <param name="memory">Exactly one batch.</param>
    /// <returns>The wrapper.</returns>
    public static BatchBytes FromReadOnlyMemory(ReadOnlyMemory<byte> memory) => new(memory);

    /// <summary>
    /// The bytes as writable memory the receiver owns: the rented buffer when pooled; otherwise the caller's array when the memory is a
    /// whole array, else a copy.
    /// </summary>
    /// <returns>Memory of <see cref="Length"/> bytes.</returns>
    public Memory<byte> GetWritableMemory()
    {
        if (_rented is { } rented)
        {
            return rented.AsMemory(0, Memory.Length);
        }

        return MemoryMarshal.TryGetArray(Memory, out ArraySegment<byte> segment) && segment.Array is { } array && segment.Offset == 0 && segment.Count == array.Length
            ? array
            : Memory.ToArray();
    }

    /// <summary>Gives a rented buffer back to the shared pool (nothing otherwise). Call once, after the last use of the bytes.</summary>
    public void Return()
    {
        if (_rented is { } rented)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Reads the batch into a buffer rented from the shared pool (used by <see cref="BatchBytesCodec"/>).</summary>
    internal static BatchBytes Read<TInput>(ref Reader<TInput> reader, int length)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        reader.ReadBytes(rented.AsSpan(0, length));
        return new BatchBytes(rented, length);
    }
}

/// <summary>Orleans codec for <see cref="BatchBytes"/>: writes the caller's bytes, reads them into a pooled buffer.</summary>
[RegisterSerializer]
public sealed class BatchBytesCodec : IFieldCodec<BatchBytes>
{
    /// <inheritdoc />
    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, BatchBytes value)
        where TBufferWriter : IBufferWriter<byte>
    {
        ReferenceCodec.MarkValueField(writer.Session);
        writer.WriteFieldHeader(fieldIdDelta, expectedType, typeof(BatchBytes), WireType.LengthPrefixed);
        writer.WriteVarUInt32((uint)value.Length);
        writer.Write(value.Memory.Span);
    }

    /// <inheritdoc />
    /// <exception cref="Orleans.Serialization.UnsupportedWireTypeException">The field is not length-prefixed.</exception>
    /// <exception cref="InvalidDataException">The length is larger than an array can be.</exception>
    public BatchBytes ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        ReferenceCodec.MarkValueField(reader.Session);
        field.EnsureWireType(WireType.LengthPrefixed);
        uint length = reader.ReadVarUInt32();
        if (length > Array.MaxLength)
        {
            throw new InvalidDataException($"A record batch of {length} bytes cannot be read (at most {Array.MaxLength}).");
        }

        return BatchBytes.Read(ref reader, (int)length);
    }
}

/// <summary>Orleans copier for <see cref="BatchBytes"/>: immutable, so the value itself (a call inside one silo shares the caller's bytes).</summary>
[RegisterCopier]
public sealed class BatchBytesCopier : IDeepCopier<BatchBytes>
{
    /// <inheritdoc />
    public BatchBytes DeepCopy(BatchBytes input, CopyContext context) => input;
}
