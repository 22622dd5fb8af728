using System.Buffers.Binary;
using System.Numerics;

namespace OrleansBroker.Protocol;

/// <summary>
/// CRC-32C (Castagnoli), the checksum Kafka's record batch v2 carries over bytes [21, end).
/// Uses the CPU's CRC32 instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </summary>
public static class Crc32C
{
    /// <summary>Computes the CRC-32C of <paramref name="data"/> (initial value and final XOR 0xFFFFFFFF).</summary>
    /// <param name="data">The bytes to checksum.</param>
    /// <returns>The checksum, as stored big-endian in the batch header.</returns>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC-32C: <c>Append(Compute(a), b) == Compute(a ++ b)</c>.</summary>
    /// <param name="crc">A checksum returned by <see cref="Compute"/> or <see cref="Append"/>; 0 to start.</param>
    /// <param name="data">The bytes to add.</param>
    /// <returns>The checksum of everything added so far.</returns>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        while (data.Length >= 8)
        {
            c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (byte b in data)
        {
            c = BitOperations.Crc32C(c, b);
        }

        return ~c;
    }
}
