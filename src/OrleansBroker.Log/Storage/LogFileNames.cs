using System.Globalization;

namespace OrleansBroker.Log.Storage;

/// <summary>File names in a partition directory, as Kafka lays them out: a 20-digit zero-padded offset and a suffix.</summary>
internal static class LogFileNames
{
    public const string LogSuffix = ".log";
    public const string IndexSuffix = ".index";
    public const string SnapshotSuffix = ".snapshot";
    public const string TempSuffix = ".tmp";
    public const string LockFileName = ".lock";

    private const int OffsetDigits = 20;

    public static string Log(string directory, long baseOffset) => Path.Combine(directory, Format(baseOffset) + LogSuffix);

    public static string Index(string directory, long baseOffset) => Path.Combine(directory, Format(baseOffset) + IndexSuffix);

    public static string Snapshot(string directory, long offset) => Path.Combine(directory, Format(offset) + SnapshotSuffix);

    public static string SnapshotTemp(string directory, long offset) => Snapshot(directory, offset) + TempSuffix;

    /// <summary>Parses <c>{offset:D20}{suffix}</c> strictly: exactly 20 digits, then exactly <paramref name="suffix"/>.</summary>
    public static bool TryParse(string fileName, string suffix, out long offset)
    {
        offset = -1;
        if (fileName.Length != OffsetDigits + suffix.Length || !fileName.EndsWith(suffix, StringComparison.Ordinal))
        {
            return false;
        }

        ReadOnlySpan<char> digits = fileName.AsSpan(0, OffsetDigits);
        foreach (char c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }

    private static string Format(long offset) => offset.ToString("D20", CultureInfo.InvariantCulture);
}
