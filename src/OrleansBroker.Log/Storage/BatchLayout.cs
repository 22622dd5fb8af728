namespace OrleansBroker.Log.Storage;

/// <summary>Field positions of the v2 batch header that the store reads directly (see <see cref="OrleansBroker.Protocol.RecordBatchHeader"/>).</summary>
internal static class BatchLayout
{
    /// <summary>Position of <c>batchLength</c> (int32).</summary>
    public const int BatchLengthOffset = 8;

    /// <summary>Position of <c>attributes</c>, where the CRC-32C's range starts.</summary>
    public const int CrcRangeStart = 21;
}
