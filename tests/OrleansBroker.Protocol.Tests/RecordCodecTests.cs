namespace OrleansBroker.Protocol.Tests;

public sealed class RecordCodecTests
{
    [Theory]
    [InlineData(0, "00")]
    [InlineData(-1, "01")]
    [InlineData(1, "02")]
    [InlineData(63, "7E")]
    [InlineData(-64, "7F")]
    [InlineData(64, "8001")]
    [InlineData(150, "AC02")]
    [InlineData(int.MaxValue, "FEFFFFFF0F")]
    [InlineData(int.MinValue, "FFFFFFFF0F")]
    public void WriteVarint_KnownValue_WritesZigzagBytes(int value, string hex)
    {
        byte[] buffer = new byte[RecordCodec.MaxVarintBytes];

        int written = RecordCodec.WriteVarint(buffer, value);

        Assert.Equal(hex, Convert.ToHexString(buffer, 0, written));
        Assert.Equal(written, RecordCodec.SizeOfVarint(value));
        int position = 0;
        Assert.True(RecordCodec.TryReadVarint(buffer.AsSpan(0, written), ref position, out int read));
        Assert.Equal(value, read);
        Assert.Equal(written, position);
    }

    [Theory]
    [InlineData(0L, "00")]
    [InlineData(-1L, "01")]
    [InlineData(5L, "0A")]
    [InlineData(1_700_000_000_000L, "80A0ABFEF962")]
    [InlineData(long.MaxValue, "FEFFFFFFFFFFFFFFFF01")]
    [InlineData(long.MinValue, "FFFFFFFFFFFFFFFFFF01")]
    public void WriteVarlong_KnownValue_WritesZigzagBytes(long value, string hex)
    {
        byte[] buffer = new byte[RecordCodec.MaxVarlongBytes];

        int written = RecordCodec.WriteVarlong(buffer, value);

        Assert.Equal(hex, Convert.ToHexString(buffer, 0, written));
        Assert.Equal(written, RecordCodec.SizeOfVarlong(value));
        int position = 0;
        Assert.True(RecordCodec.TryReadVarlong(buffer.AsSpan(0, written), ref position, out long read));
        Assert.Equal(value, read);
        Assert.Equal(written, position);
    }

    [Fact]
    public void Varints_RandomValues_RoundTrip()
    {
        var random = new Random(7);
        byte[] buffer = new byte[RecordCodec.MaxVarlongBytes];
        for (int i = 0; i < 5000; i++)
        {
            int shift = random.Next(0, 32);
            int v = random.Next(int.MinValue, int.MaxValue) >> shift;
            int n = RecordCodec.WriteVarint(buffer, v);
            int p = 0;
            Assert.True(RecordCodec.TryReadVarint(buffer.AsSpan(0, n), ref p, out int back));
            Assert.Equal((v, n), (back, p));
            Assert.Equal(n, RecordCodec.SizeOfVarint(v));

            long lv = random.NextInt64(long.MinValue, long.MaxValue) >> random.Next(0, 64);
            n = RecordCodec.WriteVarlong(buffer, lv);
            p = 0;
            Assert.True(RecordCodec.TryReadVarlong(buffer.AsSpan(0, n), ref p, out long lback));
            Assert.Equal((lv, n), (lback, p));
            Assert.Equal(n, RecordCodec.SizeOfVarlong(lv));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("80")]
    [InlineData("FFFFFFFF")]
    [InlineData("FFFFFFFF8F")] // fifth byte with a continuation bit: six bytes or more
    [InlineData("FFFFFFFF10")] // fifth byte with bits beyond 32
    [InlineData("808080808000")]
    public void TryReadVarint_TruncatedOrTooLong_ReturnsFalse(string hex)
    {
        int position = 0;

        Assert.False(RecordCodec.TryReadVarint(Convert.FromHexString(hex), ref position, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("FFFFFFFFFFFFFFFFFF")]
    [InlineData("FFFFFFFFFFFFFFFFFF02")] // tenth byte with bits beyond 64
    [InlineData("FFFFFFFFFFFFFFFFFF8100")]
    public void TryReadVarlong_TruncatedOrTooLong_ReturnsFalse(string hex)
    {
        int position = 0;

        Assert.False(RecordCodec.TryReadVarlong(Convert.FromHexString(hex), ref position, out _));
    }

    [Fact]
    public void TryReadVarint_NonCanonicalButInRange_IsAcceptedLikeKafka()
    {
        int position = 0;

        Assert.True(RecordCodec.TryReadVarint(Convert.FromHexString("8000"), ref position, out int value));
        Assert.Equal(0, value);
        Assert.Equal(2, position);
    }

    [Fact]
    public void TryCountRecords_EmptyWithZero_True()
    {
        Assert.True(RecordCodec.TryCountRecords([], 0));
        Assert.False(RecordCodec.TryCountRecords([], 1));
        Assert.False(RecordCodec.TryCountRecords([], -1));
    }

    /// <summary>A minimal record: length 6, attributes 0, tsDelta 0, offsetDelta 0, null key, null value, 0 headers.</summary>
    [Fact]
    public void TryCountRecords_MinimalRecord_True()
    {
        byte[] record = Convert.FromHexString("0C" + "00" + "00" + "00" + "01" + "01" + "00");

        Assert.True(RecordCodec.TryCountRecords(record, 1));
        Assert.False(RecordCodec.TryCountRecords(record, 2));
        Assert.False(RecordCodec.TryCountRecords(record, 0));
    }

    [Theory]
    [InlineData("0C" + "00" + "00" + "00" + "03" + "01" + "00", "key length -2")]
    [InlineData("0C" + "00" + "00" + "00" + "01" + "03" + "00", "value length -2")]
    [InlineData("0C" + "00" + "00" + "00" + "01" + "01" + "01", "header count -1")]
    [InlineData("0C" + "00" + "00" + "00" + "01" + "01" + "FEFFFFFF0F", "header count int.MaxValue, length short")]
    [InlineData("14" + "00" + "00" + "00" + "01" + "01" + "FEFFFFFF0F", "header count int.MaxValue, no header bytes")]
    [InlineData("10" + "00" + "00" + "00" + "01" + "01" + "02" + "01" + "01", "header key length -1")]
    [InlineData("10" + "00" + "00" + "00" + "01" + "01" + "02" + "7E" + "01", "header key runs past the record")]
    [InlineData("10" + "00" + "00" + "00" + "01" + "01" + "02" + "00" + "03", "header value length -2")]
    [InlineData("FEFFFFFF0F" + "00" + "00" + "00" + "01" + "01" + "00", "record length int.MaxValue")]
    [InlineData("0A" + "00" + "00" + "00" + "01" + "01", "record length below the minimum body")]
    [InlineData("0C" + "00" + "FFFFFFFFFFFFFFFFFFFF" + "00" + "01" + "01" + "00", "timestamp delta varlong too long")]
    [InlineData("0C" + "00" + "00" + "02" + "01" + "01" + "00", "offset delta 1 for record 0")]
    [InlineData("0C" + "00" + "00" + "00" + "7E" + "01" + "00", "key length 63 past the record")]
    [InlineData("0E" + "00" + "00" + "00" + "01" + "01" + "00" + "00", "body longer than its parts")]
    public void TryCountRecords_HostileRecord_ReturnsFalse(string hex, string why)
    {
        Assert.False(RecordCodec.TryCountRecords(Convert.FromHexString(hex), 1), why);
    }

    [Fact]
    public void TryCountRecords_HeaderWithNullValue_True()
    {
        // length 9: attrs, ts, offset, key -1, value -1, 1 header: key "h" (len 1), value -1.
        byte[] record = Convert.FromHexString("12" + "00" + "00" + "00" + "01" + "01" + "02" + "02" + "68" + "01");

        Assert.True(RecordCodec.TryCountRecords(record, 1));
    }

    [Fact]
    public void TryCountRecords_RandomBytes_NeverThrows()
    {
        var random = new Random(99);
        int trues = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = (byte)((bytes.Length - 1) * 2); // plausible length prefix
            }

            if (RecordCodec.TryCountRecords(bytes, random.Next(-1, 4)))
            {
                trues++;
            }
        }

        Assert.True(trues < 3000);
    }
}
