namespace OrleansBroker.Server.Internal;

/// <summary>The rules a topic's settings must follow; shared by the options validator and the topic catalog.</summary>
internal static class TopicSettingsRules
{
    /// <summary>Checks settings and names the property to fix for every failure.</summary>
    /// <param name="maxMessageBytes">Largest batch, bytes.</param>
    /// <param name="segmentBytes">Segment size, bytes.</param>
    /// <param name="flushMessages">fsync after N batches, or null.</param>
    /// <param name="flushMs">fsync after N ms, or null.</param>
    /// <param name="prefix">Prefix for the property names in messages (e.g. "Broker:" or "").</param>
    /// <returns>Every failure; empty when valid.</returns>
    public static List<string> Validate(int maxMessageBytes, int segmentBytes, long? flushMessages, long? flushMs, string prefix)
    {
        var failures = new List<string>();
        if (maxMessageBytes < BrokerOptions.MinMaxMessageBytes)
        {
            failures.Add($"{prefix}MaxMessageBytes is {maxMessageBytes}; set it to at least {BrokerOptions.MinMaxMessageBytes} bytes (Kafka's max.message.bytes).");
        }

        if (segmentBytes < BrokerOptions.MinSegmentBytes)
        {
            failures.Add($"{prefix}SegmentBytes is {segmentBytes}; set it to at least {BrokerOptions.MinSegmentBytes} bytes (Kafka's segment.bytes).");
        }
        else if (segmentBytes < maxMessageBytes)
        {
            failures.Add($"{prefix}SegmentBytes ({segmentBytes}) is smaller than MaxMessageBytes ({maxMessageBytes}); set SegmentBytes to at least MaxMessageBytes so the largest batch fits in one segment.");
        }

        if (flushMessages is < 1)
        {
            failures.Add($"{prefix}FlushMessages is {flushMessages}; set it to at least 1, or leave it unset to leave fsync to the OS (Kafka's flush.messages).");
        }

        if (flushMs is < 0)
        {
            failures.Add($"{prefix}FlushMs is {flushMs}; set it to 0 or more ms, or leave it unset (Kafka's flush.ms).");
        }

        return failures;
    }
}
