using System.Buffers.Binary;

namespace OrleansBroker.Protocol;

/// <summary>
/// Kafka's default partitioner for keyed records: <c>toPositive(murmur2(key)) % numPartitions</c>, so a key lands
/// on the same partition number as with the Java client and librdkafka's <c>murmur2_random</c>.
/// </summary>
public static class KafkaPartitioner
{
    /// <summary>Kafka's murmur2 (seed 0x9747b28c), as <c>org.apache.kafka.common.utils.Utils.murmur2</c>.</summary>
    /// <param name="data">The key bytes.</param>
    /// <returns>The 32-bit hash (may be negative).</returns>
    public static int Murmur2(ReadOnlySpan<byte> data)
    {
        const uint Seed = 0x9747b28c;
        const uint M = 0x5bd1e995;
        const int R = 24;

        int length = data.Length;
        uint h = Seed ^ (uint)length;
        int blocks = length & ~3;
        for (int i = 0; i < blocks; i += 4)
        {
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            k *= M;
            k ^= k >> R;
            k *= M;
            h *= M;
            h ^= k;
        }

        // Java's switch falls through: 3 takes in bytes 2, 1 and 0 of the tail, then multiplies once.
        switch (length & 3)
        {
            case 3:
                h ^= (uint)data[blocks + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[blocks + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[blocks];
                h *= M;
                break;
        }

        // uint shifts are logical, matching Java's >>>.
        h ^= h >> 13;
        h *= M;
        h ^= h >> 15;
        return (int)h;
    }

    /// <summary>Kafka's <c>Utils.toPositive</c>: clears the sign bit.</summary>
    /// <param name="value">Any int.</param>
    /// <returns><c>value &amp; 0x7fffffff</c>.</returns>
    public static int ToPositive(int value) => value & 0x7fffffff;

    /// <summary>The partition for a keyed record.</summary>
    /// <param name="key">Key bytes.</param>
    /// <param name="partitionCount">Partitions of the topic, 1 or more.</param>
    /// <returns>A partition number in [0, <paramref name="partitionCount"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partitionCount"/> is below 1.</exception>
    public static int Partition(ReadOnlySpan<byte> key, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        return ToPositive(Murmur2(key)) % partitionCount;
    }
}
