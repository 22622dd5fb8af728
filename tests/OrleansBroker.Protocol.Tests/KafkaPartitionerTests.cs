using System.Text;

namespace OrleansBroker.Protocol.Tests;

public sealed class KafkaPartitionerTests
{
    /// <summary>
    /// Apache Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java),
    /// plus the empty key (also the value commons-codec's MurmurHash2.hash32 gives for zero bytes with this seed).
    /// </summary>
    [Theory]
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    [InlineData("", 275646681)]
    public void Murmur2_KafkaUtilsTestVectors_Match(string key, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.Murmur2(Encoding.UTF8.GetBytes(key)));
    }

    /// <summary>librdkafka's rdmurmur2.c unit test, which states Java's murmur2 results after toPositive.</summary>
    [Theory]
    [InlineData("kafka", 1348980580)]
    [InlineData("amqp", 767747138)]
    [InlineData("giberish123456789", 257239820)]
    public void Murmur2_LibrdkafkaVectors_MatchAfterToPositive(string key, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.ToPositive(KafkaPartitioner.Murmur2(Encoding.UTF8.GetBytes(key))));
    }

    /// <summary>Expected = (hash &amp; 0x7fffffff) % n, worked out by hand from the Kafka vectors.</summary>
    [Theory]
    [InlineData("21", 7, 3)]
    [InlineData("21", 50, 40)]
    [InlineData("foobar", 12, 6)]
    [InlineData("foobar", 50, 16)]
    [InlineData("foobar", 100, 66)]
    [InlineData("a-little-bit-long-string", 3, 2)]
    [InlineData("a-little-bit-long-string", 12, 8)]
    [InlineData("a-little-bit-longer-string", 12, 11)]
    [InlineData("a-little-bit-longer-string", 50, 19)]
    [InlineData("abc", 7, 4)]
    [InlineData("abc", 1, 0)]
    public void Partition_KnownKey_IsPositiveHashModCount(string key, int partitionCount, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.Partition(Encoding.UTF8.GetBytes(key), partitionCount));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Partition_CountBelowOne_Throws(int partitionCount)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KafkaPartitioner.Partition("k"u8, partitionCount));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(5, 5)]
    [InlineData(-1, int.MaxValue)]
    [InlineData(int.MinValue, 0)]
    [InlineData(-973932308, 1173551340)]
    public void ToPositive_Value_ClearsSignBit(int value, int expected)
    {
        Assert.Equal(expected, KafkaPartitioner.ToPositive(value));
    }
}
