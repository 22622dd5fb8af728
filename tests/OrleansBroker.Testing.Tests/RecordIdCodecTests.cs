using System.Text;

namespace OrleansBroker.Testing.Tests;

public sealed class RecordIdCodecTests
{
    [Fact]
    public void FormatId_ProducerAndSequence_PadsSequenceToNineDigits()
    {
        Assert.Equal("p3:000000123", RecordIdCodec.FormatId("p3", 123));
        Assert.Equal("p3:1234567890123", RecordIdCodec.FormatId("p3", 1_234_567_890_123));
    }

    [Theory]
    [InlineData("p3", 123L, 20)]
    [InlineData("p3", 123L, 13)]
    [InlineData("producer-é", 0L, 1024)]
    [InlineData("w", 9_876_543_210L, 100)]
    public void Encode_ThenParse_RoundTripsAndHasExactSize(string producer, long sequence, int size)
    {
        var value = RecordIdCodec.Encode(producer, sequence, size);

        Assert.Equal(size, value.Length);
        Assert.True(RecordIdCodec.TryParse(value, out var parsedProducer, out var parsedSequence));
        Assert.Equal(producer, parsedProducer);
        Assert.Equal(sequence, parsedSequence);
        Assert.Equal(RecordIdCodec.FormatId(producer, sequence), RecordIdCodec.ParseRecordId(value));
    }

    [Fact]
    public void Encode_TwentyBytes_WritesIdTerminatorAndFiller()
    {
        var value = RecordIdCodec.Encode("p3", 123, 20);

        Assert.Equal("p3:000000123|nopqrst", Encoding.UTF8.GetString(value));
        Assert.Equal(13, RecordIdCodec.MinimumSize("p3", 123));
    }

    [Fact]
    public void Encode_Span_FillsWholeDestinationAndReturnsIdLength()
    {
        var buffer = new byte[32];

        var written = RecordIdCodec.Encode("p0", 7, buffer);

        Assert.Equal(13, written);
        Assert.Equal("p0:000000007|", Encoding.UTF8.GetString(buffer, 0, 13));
        Assert.DoesNotContain((byte)0, buffer);
    }

    [Fact]
    public void Encode_SizeBelowMinimum_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RecordIdCodec.Encode("p3", 123, 12));
        Assert.Throws<ArgumentException>(() => RecordIdCodec.Encode("p3", 123, new byte[12].AsSpan()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a:b")]
    [InlineData("a|b")]
    [InlineData("a\nb")]
    public void FormatId_InvalidProducer_ThrowsArgumentException(string producer) =>
        Assert.ThrowsAny<ArgumentException>(() => RecordIdCodec.FormatId(producer, 1));

    [Fact]
    public void FormatId_NegativeSequence_ThrowsArgumentOutOfRange() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RecordIdCodec.FormatId("p", -1));

    [Theory]
    [InlineData("")]
    [InlineData("p3:000000123")]
    [InlineData("|p3:1")]
    [InlineData(":000000123|")]
    [InlineData("p3:|")]
    [InlineData("p3:12a|")]
    [InlineData("p3000000123|")]
    [InlineData("p3:-1|")]
    [InlineData("p3:99999999999999999999|")]
    [InlineData("p\u0001:1|")]
    public void TryParse_MalformedValue_ReturnsFalseAndNullId(string text)
    {
        var value = Encoding.UTF8.GetBytes(text);

        Assert.False(RecordIdCodec.TryParse(value, out var producer, out var sequence));
        Assert.Equal(string.Empty, producer);
        Assert.Equal(-1, sequence);
        Assert.Null(RecordIdCodec.ParseRecordId(value));
    }

    [Fact]
    public void ParseRecordId_InvalidUtf8_ReturnsNull() =>
        Assert.Null(RecordIdCodec.ParseRecordId([0xFF, (byte)':', (byte)'1', (byte)'|']));

    [Fact]
    public void ParseRecordId_UnpaddedSequence_ReturnsIdAsWritten() =>
        Assert.Equal("p3:5", RecordIdCodec.ParseRecordId("p3:5|xyz"u8));
}
