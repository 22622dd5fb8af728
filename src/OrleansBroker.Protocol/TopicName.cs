namespace OrleansBroker.Protocol;

/// <summary>
/// Kafka's topic-name rule (<c>org.apache.kafka.common.internals.Topic.validate</c>): 1 to 249 characters of
/// <c>[a-zA-Z0-9._-]</c>, and not "." or "..". A valid name is therefore also a safe file-name component:
/// it cannot contain a path separator, a drive letter, a control character or a parent reference.
/// </summary>
public static class TopicName
{
    /// <summary>Longest legal topic name, in characters.</summary>
    public const int MaxLength = 249;

    /// <summary>Checks a topic name.</summary>
    /// <param name="name">The candidate name.</param>
    /// <param name="reason">Why it is refused, in one sentence; <c>null</c> when it is valid.</param>
    /// <returns>True when the name is legal.</returns>
    public static bool IsValid(string? name, out string? reason)
    {
        reason = name switch
        {
            null or "" => "Topic name is empty.",
            "." or ".." => $"Topic name cannot be '{name}'.",
            { Length: > MaxLength } => $"Topic name is {name.Length} characters long; the limit is {MaxLength}.",
            _ => FirstIllegal(name) is int i
                ? $"Topic name '{Printable(name)}' contains an illegal character (U+{(int)name[i]:X4}) at position {i}; allowed are ASCII letters, digits, '.', '_' and '-'."
                : null,
        };
        return reason is null;
    }

    /// <summary>The name as it can be shown in one line of a message: characters outside printable ASCII as \uXXXX.</summary>
    private static string Printable(string name)
    {
        var text = new System.Text.StringBuilder(name.Length);
        foreach (char c in name)
        {
            if (c is >= ' ' and <= '~' and not '\\')
            {
                text.Append(c);
            }
            else
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }

        return text.ToString();
    }

    private static int? FirstIllegal(string name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';
            if (!ok)
            {
                return i;
            }
        }

        return null;
    }
}
