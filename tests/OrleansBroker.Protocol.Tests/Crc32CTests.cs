namespace OrleansBroker.Protocol.Tests;

public sealed class Crc32CTests
{
    [Fact]
    public void Compute_CheckString_IsE3069283()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
    }

    [Fact]
    public void Compute_Empty_IsZero()
    {
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    /// <summary>RFC 3720 (iSCSI) B.4 test patterns for CRC-32C.</summary>
    [Theory]
    [InlineData(0x00, 0x8A9136AAu)]
    [InlineData(0xFF, 0x62A8AB43u)]
    public void Compute_Rfc3720ThirtyTwoEqualBytes_Matches(byte fill, uint expected)
    {
        byte[] data = new byte[32];
        Array.Fill(data, fill);

        Assert.Equal(expected, Crc32C.Compute(data));
    }

    [Fact]
    public void Append_AnySplit_ComposesToCompute()
    {
        byte[] data = new byte[301];
        new Random(3).NextBytes(data);
        uint whole = Crc32C.Compute(data);

        for (int split = 0; split <= data.Length; split += 7)
        {
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
        }

        Assert.Equal(whole, Crc32C.Append(0, data));
    }
}
