using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;

namespace OrleansBroker.ClusterTests.Server;

/// <summary><see cref="BatchBytes"/>: the caller's slice travels as is, the receiver reads it into a pooled buffer it owns.</summary>
public sealed class BatchBytesTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Serialize_SliceOfALargerBuffer_OnlyTheSliceTravelsAndIsReadIntoAPooledBuffer()
    {
        byte[] buffer = [.. Enumerable.Range(0, 300).Select(i => (byte)i)];
        var sent = new BatchBytes(buffer.AsMemory(100, 150));
        Serializer<BatchBytes> serializer = _services.GetRequiredService<Serializer<BatchBytes>>();

        byte[] wire = serializer.SerializeToArray(sent);
        BatchBytes received = serializer.Deserialize(wire);

        Assert.False(sent.IsPooled);
        Assert.True(received.IsPooled);
        Assert.True(wire.Length < 170, $"{wire.Length} bytes on the wire for a 150-byte slice");
        Assert.Equal(buffer.AsSpan(100, 150).ToArray(), received.Memory.ToArray());
        Memory<byte> writable = received.GetWritableMemory();
        Assert.Equal(150, writable.Length);
        Assert.True(received.Memory.Span.Overlaps(writable.Span), "the receiver writes into its pooled buffer, not a copy");
        received.Return();
    }

    [Fact]
    public void Copy_InsideOneSilo_SharesTheCallersBytes()
    {
        byte[] batch = [1, 2, 3];
        DeepCopier<BatchBytes> copier = _services.GetRequiredService<DeepCopier<BatchBytes>>();

        BatchBytes copy = copier.Copy(batch);

        Assert.False(copy.IsPooled);
        Assert.True(copy.Memory.Span.Overlaps(batch), "an immutable value is not copied");
        Assert.Same(batch, ArrayOf(copy.GetWritableMemory()));
        copy.Return(); // nothing rented: nothing happens
    }

    [Fact]
    public void GetWritableMemory_SliceNotPooled_CopiesSoTheCallersBufferIsNeverWritten()
    {
        byte[] buffer = [9, 8, 7, 6];
        var slice = new BatchBytes(buffer.AsMemory(1, 2));

        Memory<byte> writable = slice.GetWritableMemory();
        writable.Span[0] = 0;

        Assert.Equal(new byte[] { 9, 8, 7, 6 }, buffer);
        Assert.Equal(new byte[] { 0, 7 }, writable.ToArray());
    }

    private static byte[]? ArrayOf(Memory<byte> memory) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(memory, out ArraySegment<byte> segment) ? segment.Array : null;
}
