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
    public static int Murmur2(ReadOnlySpan<byte> data) => throw new NotImplementedException();

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
