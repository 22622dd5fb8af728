namespace OrleansBroker.Protocol.Tests;

public sealed class SequenceTests
{
    [Fact]
    public void LastSequence_BaseNearMaxValueThreeRecords_WrapsToZero()
    {
        var header = new RecordBatchHeader { ProducerId = 1, BaseSequence = int.MaxValue - 1, RecordCount = 3, LastOffsetDelta = 2 };

        Assert.Equal(0, header.LastSequence);
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(5, 3, 7)]
    [InlineData(int.MaxValue, 1, int.MaxValue)]
    [InlineData(int.MaxValue, 2, 0)]
    [InlineData(int.MaxValue - 2, 5, 1)]
    [InlineData(-1, 4, -1)]
    public void LastSequence_VariousBatches_MatchesKafka(int baseSequence, int recordCount, int expected)
    {
        var header = new RecordBatchHeader { BaseSequence = baseSequence, RecordCount = recordCount };

        Assert.Equal(expected, header.LastSequence);
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(7, 0, 7)]
    [InlineData(5, 3, 8)]
    [InlineData(int.MaxValue - 1, 1, int.MaxValue)]
    [InlineData(int.MaxValue, 0, int.MaxValue)]
    [InlineData(int.MaxValue, 1, 0)]
    [InlineData(int.MaxValue - 1, 2, 0)]
    [InlineData(int.MaxValue - 2, 5, 2)]
    [InlineData(0, int.MaxValue, int.MaxValue)]
    [InlineData(1, int.MaxValue, 0)]
    [InlineData(int.MaxValue, int.MaxValue, int.MaxValue - 1)]
    [InlineData(-1, 10, -1)]
    public void IncrementSequence_EdgeCases_WrapPastMaxValueToZero(int sequence, int increment, int expected)
    {
        Assert.Equal(expected, RecordBatchHeader.IncrementSequence(sequence, increment));
    }
}
