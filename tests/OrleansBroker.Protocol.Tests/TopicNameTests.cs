namespace OrleansBroker.Protocol.Tests;

public sealed class TopicNameTests
{
    public static TheoryData<string> ValidNames => ["a", "a.b_c-D9", new string('x', 249), "...a", "_", "-"];

    public static TheoryData<string?> InvalidNames =>
        [null, "", new string('x', 250), ".", "..", "a/b", "..\\x", "a b", "ä", "\u0001", "con:", "a\0b", "C:x", "topic\n"];

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void IsValid_LegalName_TrueWithoutReason(string name)
    {
        Assert.True(TopicName.IsValid(name, out string? reason));
        Assert.Null(reason);
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void IsValid_IllegalName_FalseWithReason(string? name)
    {
        Assert.False(TopicName.IsValid(name, out string? reason));
        Assert.False(string.IsNullOrWhiteSpace(reason));
    }

    [Fact]
    public void IsValid_IllegalCharacter_ReasonNamesCodePointAndPosition()
    {
        Assert.False(TopicName.IsValid("ab/c", out string? reason));

        Assert.Contains("U+002F", reason, StringComparison.Ordinal);
        Assert.Contains("position 2", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab/c", "'ab/c'")]
    [InlineData("orders\nx", "'orders\\u000Ax'")]
    [InlineData("a\\..\\b", "'a\\u005C..\\u005Cb'")]
    public void IsValid_IllegalCharacter_ReasonQuotesTheNameOnOneLine(string name, string quoted)
    {
        Assert.False(TopicName.IsValid(name, out string? reason));

        Assert.StartsWith($"Topic name {quoted} contains an illegal character", reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', reason!);
    }
}
