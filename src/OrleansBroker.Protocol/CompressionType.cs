namespace OrleansBroker.Protocol;

/// <summary>The compression codec in bits 0–2 of a record batch's attributes (Kafka's <c>compression.type</c>).</summary>
public enum CompressionType : byte
{
    /// <summary>Uncompressed records. The only codec the broker accepts today.</summary>
    None = 0,

    /// <summary>gzip (RFC 1952).</summary>
    Gzip = 1,

    /// <summary>Snappy, Xerial framing.</summary>
    Snappy = 2,

    /// <summary>LZ4 frame.</summary>
    Lz4 = 3,

    /// <summary>Zstandard (KIP-110).</summary>
    Zstd = 4,
}
