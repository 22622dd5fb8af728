using System.Buffers.Binary;
using OrleansBroker.Protocol;

namespace OrleansBroker.Log.Storage;

/// <summary>
/// Kafka's recovery point for the active segment: the first <see cref="Position"/> bytes of segment <see cref="SegmentBaseOffset"/> hold
/// whole, valid batches and need no scan on the next open. Recovery then scans only the bytes after it, so reopening costs the tail
/// written since the last checkpoint (clean close or producer-state snapshot), not the segment size.
/// </summary>
/// <param name="SegmentBaseOffset">Base offset of the segment it describes; a recovery point of another segment is ignored.</param>
/// <param name="Position">Bytes of the segment known to hold whole, valid batches.</param>
/// <param name="NextOffset">Offset of the first record after <see cref="Position"/>.</param>
/// <param name="LastBatchPosition">Position of the last batch before <see cref="Position"/> (-1 when <see cref="Position"/> is 0); re-checked on open.</param>
/// <param name="BytesSinceLastIndexEntry">Index state at <see cref="Position"/>, so the scan after it adds the same entries an append would have.</param>
/// <param name="IndexEntries">Entries of the index file that cover bytes before <see cref="Position"/>.</param>
/// <param name="BootId">The operating system's boot id when it was written (Linux <c>/proc/sys/kernel/random/boot_id</c>; empty elsewhere).</param>
/// <param name="Durable">The segment up to <see cref="Position"/>, the index and this file were fsynced (clean close): it survives an
/// operating-system crash. Otherwise (a periodic checkpoint, written without any fsync so that appends never wait for the disk) the
/// bytes are only known to be in the page cache: they survive a crash of the process, not of the machine, so the point is trusted only
/// while the boot id is unchanged.</param>
/// <remarks>
/// File <c>recovery-point</c>: version (int16, 2), the fields big-endian, CRC-32C of all of it (uint32). Written to
/// <c>recovery-point.tmp</c> and renamed over the old one (fsynced with the directory when durable); a torn, foreign or older-version file
/// fails its checks and is ignored (the whole segment is scanned, as without a recovery point).
/// </remarks>
internal readonly record struct RecoveryPoint(
    long SegmentBaseOffset, long Position, long NextOffset, long LastBatchPosition, long BytesSinceLastIndexEntry, int IndexEntries, Guid BootId, bool Durable)
{
    public const string FileName = "recovery-point";
    private const short Version = 2;
    private const int BodySize = 2 + (5 * 8) + 4 + 16 + 1;
    private const int Size = BodySize + 4;
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    private static readonly Lazy<Guid> BootIdOfThisBoot = new(ReadBootId);

    /// <summary>This boot's id (Linux), or <see cref="Guid.Empty"/> when the OS does not say.</summary>
    public static Guid CurrentBootId => BootIdOfThisBoot.Value;

    /// <summary>Whether the bytes it vouches for can be trusted now: fsynced, or written during this boot (page cache intact).</summary>
    public bool IsTrustedNow => Durable || (BootId != Guid.Empty && BootId == CurrentBootId);

    public static string PathIn(string directory) => System.IO.Path.Combine(directory, FileName);

    /// <summary>Writes the file: temp, then rename; with <see cref="Durable"/> also fsync of the file and the directory.</summary>
    public void Write(string directory)
    {
        Span<byte> bytes = stackalloc byte[Size];
        BinaryPrimitives.WriteInt16BigEndian(bytes, Version);
        BinaryPrimitives.WriteInt64BigEndian(bytes[2..], SegmentBaseOffset);
        BinaryPrimitives.WriteInt64BigEndian(bytes[10..], Position);
        BinaryPrimitives.WriteInt64BigEndian(bytes[18..], NextOffset);
        BinaryPrimitives.WriteInt64BigEndian(bytes[26..], LastBatchPosition);
        BinaryPrimitives.WriteInt64BigEndian(bytes[34..], BytesSinceLastIndexEntry);
        BinaryPrimitives.WriteInt32BigEndian(bytes[42..], IndexEntries);
        _ = BootId.TryWriteBytes(bytes[46..], bigEndian: true, out _);
        bytes[62] = Durable ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(bytes[BodySize..], Crc32C.Compute(bytes[..BodySize]));

        string path = PathIn(directory);
        string temporary = path + LogFileNames.TempSuffix;
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(bytes);
            if (Durable)
            {
                stream.Flush(flushToDisk: true);
            }
        }

        File.Move(temporary, path, overwrite: true);
        if (Durable)
        {
            _ = DirectorySync.TryFsync(directory);
        }
    }

    /// <summary>Reads the file; <c>null</c> when it is missing, torn or of another version.</summary>
    public static RecoveryPoint? TryRead(string directory)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PathIn(directory));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (bytes.Length != Size
            || BinaryPrimitives.ReadInt16BigEndian(bytes) != Version
            || BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(BodySize)) != Crc32C.Compute(bytes.AsSpan(0, BodySize))
            || bytes[62] > 1)
        {
            return null;
        }

        var point = new RecoveryPoint(
            BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(2)),
            BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(10)),
            BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(18)),
            BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(26)),
            BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(34)),
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(42)),
            new Guid(bytes.AsSpan(46, 16), bigEndian: true),
            bytes[62] == 1);
        bool consistent = point.Position >= 0
            && point.IndexEntries >= 0
            && point.BytesSinceLastIndexEntry >= 0
            && point.NextOffset >= point.SegmentBaseOffset
            && (point.Position == 0 ? point.LastBatchPosition == -1 && point.NextOffset == point.SegmentBaseOffset : point.LastBatchPosition >= 0 && point.LastBatchPosition < point.Position);
        return consistent ? point : null;
    }

    private static Guid ReadBootId()
    {
        try
        {
            return OperatingSystem.IsLinux() && Guid.TryParse(File.ReadAllText(BootIdPath).Trim(), out Guid id) ? id : Guid.Empty;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Guid.Empty;
        }
    }
}
