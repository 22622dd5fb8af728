using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OrleansBroker.Protocol.Tests;

/// <summary>One header of a golden record, as vectors.json states it.</summary>
internal sealed record VectorHeader(string Key, byte[]? Value);

/// <summary>One record of a golden batch, as vectors.json states it.</summary>
internal sealed record VectorRecord(long Offset, long Timestamp, int OffsetDelta, long TimestampDelta, byte[]? Key, byte[]? Value, IReadOnlyList<VectorHeader> Headers);

/// <summary>One batch of a golden file: where it is, its header fields and its records.</summary>
internal sealed record VectorBatch(int ByteOffset, int ByteLength, RecordBatchHeader Header, IReadOnlyList<VectorRecord> Records, int? UncompressedRecordsBytes);

/// <summary>One golden file (a case in vectors.json).</summary>
internal sealed record VectorCase(string Name, string Client, byte[] Bytes, string Sha256, IReadOnlyList<VectorBatch> Batches)
{
    public byte[] BatchBytes(int index) => Bytes.AsSpan(Batches[index].ByteOffset, Batches[index].ByteLength).ToArray();
}

/// <summary>Loads Vectors/vectors.json and the .bin files next to it (copied to the test output).</summary>
internal static class GoldenVectors
{
    private static readonly Lazy<IReadOnlyDictionary<string, VectorCase>> Cases = new(Load);

    public static IReadOnlyDictionary<string, VectorCase> All => Cases.Value;

    /// <summary>Gzip-compressed case.</summary>
    public const string GzipCase = "e_confluent_gzip_3rec";

    /// <summary>The case with two batches back to back.</summary>
    public const string TwoBatchCase = "f_confluent_idempotent_2batches";

    public static VectorCase Get(string name) => All[name];

    public static TheoryData<string> CaseNames() => [.. All.Keys];

    public static TheoryData<string> UncompressedCaseNames() => [.. All.Keys.Where(k => k != GzipCase)];

    public static TheoryData<string, int> UncompressedBatches()
    {
        var data = new TheoryData<string, int>();
        foreach (VectorCase c in All.Values.Where(c => c.Name != GzipCase))
        {
            for (int i = 0; i < c.Batches.Count; i++)
            {
                data.Add(c.Name, i);
            }
        }

        return data;
    }

    /// <summary>Recomputes the CRC-32C of an edited batch so that a later check is what fails.</summary>
    public static byte[] WithFixedCrc(byte[] batch)
    {
        BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(17), Crc32C.Compute(batch.AsSpan(21)));
        return batch;
    }

    private static Dictionary<string, VectorCase> Load()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Vectors");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "vectors.json")));
        var cases = new Dictionary<string, VectorCase>(StringComparer.Ordinal);
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string name = c.GetProperty("case").GetString()!;
            byte[] bytes = File.ReadAllBytes(Path.Combine(dir, c.GetProperty("file").GetString()!));
            var batches = c.GetProperty("batches").EnumerateArray().Select(ParseBatch).ToList();
            cases[name] = new VectorCase(name, c.GetProperty("client").GetString()!, bytes, c.GetProperty("sha256").GetString()!, batches);
        }

        return cases;
    }

    private static VectorBatch ParseBatch(JsonElement b)
    {
        JsonElement h = b.GetProperty("header");
        var header = new RecordBatchHeader
        {
            BaseOffset = h.GetProperty("baseOffset").GetInt64(),
            BatchLength = h.GetProperty("batchLength").GetInt32(),
            PartitionLeaderEpoch = h.GetProperty("partitionLeaderEpoch").GetInt32(),
            Magic = h.GetProperty("magic").GetSByte(),
            Crc = uint.Parse(h.GetProperty("crc").GetString()!.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            Attributes = h.GetProperty("attributes").GetInt16(),
            LastOffsetDelta = h.GetProperty("lastOffsetDelta").GetInt32(),
            BaseTimestamp = h.GetProperty("baseTimestamp").GetInt64(),
            MaxTimestamp = h.GetProperty("maxTimestamp").GetInt64(),
            ProducerId = h.GetProperty("producerId").GetInt64(),
            ProducerEpoch = h.GetProperty("producerEpoch").GetInt16(),
            BaseSequence = h.GetProperty("baseSequence").GetInt32(),
            RecordCount = h.GetProperty("recordCount").GetInt32(),
        };
        var records = b.GetProperty("records").EnumerateArray().Select(r => new VectorRecord(
            r.GetProperty("offset").GetInt64(),
            r.GetProperty("timestamp").GetInt64(),
            r.GetProperty("offsetDelta").GetInt32(),
            r.GetProperty("timestampDelta").GetInt64(),
            Bytes(r.GetProperty("key")),
            Bytes(r.GetProperty("value")),
            r.GetProperty("headers").EnumerateArray()
                .Select(x => new VectorHeader(x.GetProperty("key").GetString()!, Bytes(x.GetProperty("value"))))
                .ToList())).ToList();
        int? uncompressed = b.TryGetProperty("uncompressedRecordsBytes", out JsonElement u) ? u.GetInt32() : null;
        return new VectorBatch(b.GetProperty("byteOffset").GetInt32(), b.GetProperty("byteLength").GetInt32(), header, records, uncompressed);
    }

    /// <summary>JSON string = UTF-8 bytes, null = length -1, {"base64": …} = raw bytes.</summary>
    private static byte[]? Bytes(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => Encoding.UTF8.GetBytes(e.GetString()!),
        JsonValueKind.Object => Convert.FromBase64String(e.GetProperty("base64").GetString()!),
        _ => throw new InvalidDataException($"Unexpected JSON value {e}."),
    };

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
