using System.Buffers.Binary;
using OrleansBroker.Protocol;

namespace OrleansBroker.Client.Internal;

/// <summary>
/// Rewrites the producer id, epoch and base sequence of a sealed record batch (magic v2) and recomputes its CRC-32C.
/// Used only after an epoch bump, for batches that are known never to have been written in the old epoch.
/// </summary>
internal static class BatchStamp
{
    private const int CrcOffset = 17;
    private const int AttributesOffset = 21;
    private const int ProducerIdOffset = 43;
    private const int ProducerEpochOffset = 51;
    private const int BaseSequenceOffset = 53;

    /// <summary>Restamps <paramref name="batch"/> in place.</summary>
    public static void Restamp(Span<byte> batch, long producerId, short producerEpoch, int baseSequence)
    {
        if (batch.Length < RecordBatchHeader.Size)
        {
            throw new ArgumentException("Not a record batch: shorter than the 61-byte header.", nameof(batch));
        }

        BinaryPrimitives.WriteInt64BigEndian(batch[ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[ProducerEpochOffset..], producerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[BaseSequenceOffset..], baseSequence);
        BinaryPrimitives.WriteUInt32BigEndian(batch[CrcOffset..], Crc32C.Compute(batch[AttributesOffset..]));
    }
}
