using System.Text;

namespace OrleansBroker.EndToEndTests.Infrastructure;

/// <summary>Deterministic UTF-8 text files for round trips, and a byte comparison that says where two files differ.</summary>
public static class TextFiles
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // 1-, 2-, 3- and 4-byte UTF-8 pieces (the last ones are surrogate pairs), plus a tab and a carriage return mid-line.
    private static readonly string[] Exotic = ["é", "ü", "ß", "ñ", "ø", "Ж", "€", "漢", "字", "カ", "한", "글", "😀", "🚀", "𝄞", "\t", "\r"];

    /// <summary>
    /// Writes <paramref name="lineCount"/> lines, each ended by '\n': lengths 0 to 200 UTF-16 chars (about 1 in 12 empty), mostly printable
    /// ASCII with multi-byte characters mixed in. The same seed gives the same bytes.
    /// </summary>
    /// <param name="path">File to create or overwrite.</param>
    /// <param name="lineCount">Number of lines.</param>
    /// <param name="seed">Random seed.</param>
    /// <returns>The file's length in bytes.</returns>
    public static long WriteRandomLines(string path, int lineCount, int seed)
    {
        var random = new Random(seed);
        var line = new StringBuilder(256);
        using (var writer = new StreamWriter(path, append: false, Utf8, 1 << 16))
        {
            for (int i = 0; i < lineCount; i++)
            {
                line.Clear();
                int length = random.Next(12) == 0 ? 0 : random.Next(1, 201);
                while (line.Length < length)
                {
                    if (random.Next(8) == 0)
                    {
                        string piece = Exotic[random.Next(Exotic.Length)];
                        if (line.Length + piece.Length > length)
                        {
                            break;
                        }

                        line.Append(piece);
                    }
                    else
                    {
                        line.Append((char)random.Next(0x20, 0x7F));
                    }
                }

                writer.Write(line);
                writer.Write('\n');
            }
        }

        return new FileInfo(path).Length;
    }

    /// <summary>Writes lines, each ended by '\n', as UTF-8 without a BOM.</summary>
    /// <param name="path">File to create or overwrite.</param>
    /// <param name="lines">The lines (without '\n').</param>
    public static void WriteLines(string path, IEnumerable<string> lines)
    {
        using var writer = new StreamWriter(path, append: false, Utf8);
        foreach (string line in lines)
        {
            writer.Write(line);
            writer.Write('\n');
        }
    }

    /// <summary>Concatenates files into a new one.</summary>
    /// <param name="path">File to create or overwrite.</param>
    /// <param name="parts">Files whose bytes are appended in order.</param>
    public static void Concatenate(string path, params string[] parts)
    {
        using FileStream output = File.Create(path);
        foreach (string part in parts)
        {
            using FileStream input = File.OpenRead(part);
            input.CopyTo(output);
        }
    }

    /// <summary>Fails unless the two files hold the same bytes, naming the first differing line and showing both versions of it.</summary>
    /// <param name="expectedPath">The file that was produced.</param>
    /// <param name="actualPath">What was consumed.</param>
    /// <param name="context">What is compared, for the message.</param>
    public static void AssertSameBytes(string expectedPath, string actualPath, string context)
    {
        byte[] expected = File.ReadAllBytes(expectedPath);
        byte[] actual = File.ReadAllBytes(actualPath);
        if (expected.AsSpan().SequenceEqual(actual))
        {
            return;
        }

        int at = expected.AsSpan().CommonPrefixLength(actual);
        int line = expected.AsSpan(0, at).Count((byte)'\n');
        int lineStart = expected.AsSpan(0, at).LastIndexOf((byte)'\n') + 1;
        Assert.Fail(
            $"{context}: consumed bytes differ from the produced file. Expected {expected.Length} bytes, got {actual.Length}; first difference " +
            $"at byte {at}, line {line + 1} (1-based).\nexpected line: {Show(expected, lineStart)}\nactual line:   {Show(actual, lineStart)}\n" +
            CompareAsMultisets(expected, actual));
    }

    /// <summary>Says whether the difference is order only (the same lines, reordered), or lines lost or added.</summary>
    private static string CompareAsMultisets(byte[] expected, byte[] actual)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string line in Encoding.UTF8.GetString(expected).Split('\n'))
        {
            counts[line] = counts.GetValueOrDefault(line) + 1;
        }

        foreach (string line in Encoding.UTF8.GetString(actual).Split('\n'))
        {
            counts[line] = counts.GetValueOrDefault(line) - 1;
        }

        int missing = counts.Values.Where(c => c > 0).Sum();
        int extra = -counts.Values.Where(c => c < 0).Sum();
        return missing == 0 && extra == 0
            ? "The same lines, in a different order: records were reordered (no loss, no duplicates)."
            : $"As multisets of lines: {missing} expected lines are missing, {extra} lines are extra (duplicates or foreign).";
    }

    private static string Show(byte[] bytes, int start)
    {
        if (start >= bytes.Length)
        {
            return "<end of file>";
        }

        int end = bytes.AsSpan(start).IndexOf((byte)'\n');
        int length = end < 0 ? bytes.Length - start : end;
        return "\"" + Encoding.UTF8.GetString(bytes, start, Math.Min(length, 400)).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal) + "\"";
    }
}
