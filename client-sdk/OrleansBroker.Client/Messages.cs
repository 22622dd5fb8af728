using System.Text;
using OrleansBroker.Protocol;

namespace OrleansBroker.Client;

/// <summary>
/// One record to produce: key, value, headers and timestamp, as a Kafka <c>ProducerRecord</c> without topic and partition.
/// </summary>
/// <remarks>The producer does not copy the arrays: do not change them until the delivery report arrives.</remarks>
public sealed record Message
{
    /// <summary>Key bytes, or <c>null</c> for a keyless record (spread by the sticky partitioner, KIP-480).</summary>
    public byte[]? Key { get; init; }

    /// <summary>Value bytes, or <c>null</c> for a tombstone. <c>null</c> is distinct from an empty value.</summary>
    public byte[]? Value { get; init; }

    /// <summary>Record headers in order, or <c>null</c> for none. Header keys are UTF-8 strings; a header value may be <c>null</c>.</summary>
    public IReadOnlyList<RecordHeader>? Headers { get; init; }

    /// <summary>The record's CreateTime; <c>null</c> means "now" when the producer accepts the record. Stored in ms since the Unix epoch.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Builds a message from UTF-8 strings.</summary>
    /// <param name="key">Key text, or <c>null</c> for no key.</param>
    /// <param name="value">Value text, or <c>null</c> for a tombstone.</param>
    /// <returns>The message.</returns>
    public static Message FromStrings(string? key, string? value) => new()
    {
        Key = key is null ? null : Encoding.UTF8.GetBytes(key),
        Value = value is null ? null : Encoding.UTF8.GetBytes(value),
    };

    /// <summary>Builds a keyless message from a UTF-8 string value.</summary>
    /// <param name="value">Value text.</param>
    /// <returns>The message.</returns>
    public static Message FromString(string value) => FromStrings(null, value);

    /// <summary>The key decoded as UTF-8, or <c>null</c>.</summary>
    /// <returns>The key text.</returns>
    public string? GetKeyString() => Key is null ? null : Encoding.UTF8.GetString(Key);

    /// <summary>The value decoded as UTF-8, or <c>null</c>.</summary>
    /// <returns>The value text.</returns>
    public string? GetValueString() => Value is null ? null : Encoding.UTF8.GetString(Value);
}

/// <summary>A topic partition.</summary>
/// <param name="Topic">Topic name.</param>
/// <param name="Partition">Partition number, 0 to partition count - 1.</param>
public readonly record struct TopicPartition(string Topic, int Partition)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Topic}[{Partition}]";
}

/// <summary>
/// An offset in a partition, or one of the special values <see cref="Beginning"/> and <see cref="End"/> (Kafka's
/// <c>auto.offset.reset</c> earliest / latest, Confluent's <c>Offset.Beginning</c> / <c>Offset.End</c>).
/// </summary>
/// <param name="Value">An offset (0 or more), or -2 for <see cref="Beginning"/>, -1 for <see cref="End"/>, -1001 for <see cref="Unset"/>.</param>
public readonly record struct Offset(long Value)
{
    /// <summary>The partition's log start offset, resolved when the consumer starts fetching (value -2).</summary>
    public static Offset Beginning { get; } = new(-2);

    /// <summary>The partition's high watermark, resolved when the consumer starts fetching (value -1).</summary>
    public static Offset End { get; } = new(-1);

    /// <summary>No offset (value -1001), as returned for a partition that is not assigned.</summary>
    public static Offset Unset { get; } = new(-1001);

    /// <summary>True when this is a real offset rather than a special value.</summary>
    public bool IsSpecial => Value < 0;

    /// <summary>Converts an absolute offset.</summary>
    /// <param name="value">The offset.</param>
    public static implicit operator Offset(long value) => new(value);

    /// <summary>Builds an offset from a number (the named form of the implicit conversion).</summary>
    /// <param name="value">The offset.</param>
    /// <returns>The offset.</returns>
    public static Offset FromInt64(long value) => new(value);

    /// <inheritdoc/>
    public override string ToString() => Value switch
    {
        -2 => "Beginning",
        -1 => "End",
        -1001 => "Unset",
        _ => Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>A topic partition and an offset in it.</summary>
/// <param name="TopicPartition">The partition.</param>
/// <param name="Offset">The offset, or <see cref="Offset.Beginning"/> / <see cref="Offset.End"/>.</param>
public readonly record struct TopicPartitionOffset(TopicPartition TopicPartition, Offset Offset)
{
    /// <summary>Builds a value from its parts.</summary>
    /// <param name="topic">Topic name.</param>
    /// <param name="partition">Partition number.</param>
    /// <param name="offset">Offset or special value.</param>
    public TopicPartitionOffset(string topic, int partition, Offset offset)
        : this(new TopicPartition(topic, partition), offset)
    {
    }

    /// <summary>Topic name.</summary>
    public string Topic => TopicPartition.Topic;

    /// <summary>Partition number.</summary>
    public int Partition => TopicPartition.Partition;
}

/// <summary>The acknowledgement of one produced record (Kafka's <c>RecordMetadata</c>, Confluent's <c>DeliveryResult</c>).</summary>
public sealed record DeliveryResult
{
    /// <summary>Topic the record was written to.</summary>
    public required string Topic { get; init; }

    /// <summary>Partition the record was written to.</summary>
    public required int Partition { get; init; }

    /// <summary>Offset of the record in the partition. For a duplicate, the offset the original was written at.</summary>
    public required long Offset { get; init; }

    /// <summary>The record's timestamp (CreateTime, ms precision).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>
    /// True when the broker recognised the batch as a retry of one it had already written (same producer id, epoch and
    /// sequences) and wrote nothing: the record is in the log exactly once, at <see cref="Offset"/>.
    /// </summary>
    public required bool IsDuplicate { get; init; }

    /// <summary>The message as given to the producer.</summary>
    public required Message Message { get; init; }

    /// <summary>The topic partition.</summary>
    public TopicPartition TopicPartition => new(Topic, Partition);
}

/// <summary>
/// The outcome of one record given to <see cref="Producer.Produce(string, Message, Action{DeliveryReport}?)"/>: a result or an error.
/// Flat, like Confluent's <c>DeliveryReport</c>: <see cref="Offset"/>, <see cref="Timestamp"/> and <see cref="IsDuplicate"/> are on the
/// report itself, so a handler that reads them costs one object per record; <see cref="Result"/> is the same acknowledgement as a
/// <see cref="DeliveryResult"/>.
/// </summary>
public sealed record DeliveryReport
{
    private readonly DeliveryResult? _result;

    /// <summary>
    /// The acknowledgement, or <c>null</c> when the delivery failed. Unless set, built from <see cref="Offset"/>, <see cref="Timestamp"/>
    /// and <see cref="IsDuplicate"/> on each read; setting it sets those three.
    /// </summary>
    public DeliveryResult? Result
    {
        get => _result ?? (Error is null && Offset >= 0
            ? new DeliveryResult { Topic = Topic, Partition = Partition, Offset = Offset, Timestamp = Timestamp, IsDuplicate = IsDuplicate, Message = Message }
            : null);
        init
        {
            _result = value;
            if (value is not null)
            {
                Offset = value.Offset;
                Timestamp = value.Timestamp;
                IsDuplicate = value.IsDuplicate;
            }
        }
    }

    /// <summary>Offset of the acknowledged record (for a duplicate, where the original was written); -1 when the delivery failed.</summary>
    public long Offset { get; init; } = -1;

    /// <summary>The record's timestamp (CreateTime, ms precision); default when the delivery failed.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>True when the broker answered that the record's batch was already written (a retry): the record is in the log once, at <see cref="Offset"/>.</summary>
    public bool IsDuplicate { get; init; }

    /// <summary>Why the delivery failed, or <c>null</c> on success.</summary>
    public ProduceException? Error { get; init; }

    /// <summary>The message as given to the producer.</summary>
    public required Message Message { get; init; }

    /// <summary>Topic the record was sent to.</summary>
    public required string Topic { get; init; }

    /// <summary>Partition the record was assigned to; -1 when it failed before a partition was chosen.</summary>
    public int Partition { get; init; } = -1;

    /// <summary>True when the record was acknowledged.</summary>
    public bool IsSuccess => Error is null;
}

/// <summary>
/// The allocation-free delivery callback of <see cref="Producer.Produce(string, Message, DeliveryCallback)"/>: called once per record with its
/// outcome, passed by reference and valid only during the call (copy the fields you keep, or call <see cref="DeliveryOutcome.ToReport"/>).
/// </summary>
/// <param name="outcome">The record's outcome.</param>
public delegate void DeliveryCallback(in DeliveryOutcome outcome);

/// <summary>The outcome of one produced record, as a value (see <see cref="DeliveryCallback"/>): the fields of a <see cref="DeliveryReport"/>.</summary>
public readonly struct DeliveryOutcome
{
    private readonly long _timestampMs;

    internal DeliveryOutcome(string topic, int partition, long offset, long timestampMs, bool isDuplicate, Message message, ProduceException? error)
    {
        Topic = topic;
        Partition = partition;
        Offset = offset;
        _timestampMs = timestampMs;
        IsDuplicate = isDuplicate;
        Message = message;
        Error = error;
    }

    /// <summary>Topic the record was sent to.</summary>
    public string Topic { get; }

    /// <summary>Partition the record was assigned to; -1 when it failed before a partition was chosen.</summary>
    public int Partition { get; }

    /// <summary>Offset of the acknowledged record (for a duplicate, where the original was written); -1 when the delivery failed.</summary>
    public long Offset { get; }

    /// <summary>The record's timestamp (CreateTime, ms precision).</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(_timestampMs);

    /// <summary>True when the broker answered that the record's batch was already written (a retry): the record is in the log once.</summary>
    public bool IsDuplicate { get; }

    /// <summary>The message as given to the producer.</summary>
    public Message Message { get; }

    /// <summary>Why the delivery failed, or <c>null</c> on success.</summary>
    public ProduceException? Error { get; }

    /// <summary>True when the record was acknowledged.</summary>
    public bool IsSuccess => Error is null;

    /// <summary>The acknowledgement as <see cref="Producer.ProduceAsync(string, Message, CancellationToken)"/> returns it; only for a success.</summary>
    internal DeliveryResult ToResult() =>
        new() { Topic = Topic, Partition = Partition, Offset = Offset, Timestamp = Timestamp, IsDuplicate = IsDuplicate, Message = Message };

    /// <summary>The same outcome as a <see cref="DeliveryReport"/> (one allocation), to keep beyond the callback.</summary>
    /// <returns>The report.</returns>
    public DeliveryReport ToReport() => Error is null
        ? new DeliveryReport { Offset = Offset, Timestamp = Timestamp, IsDuplicate = IsDuplicate, Message = Message, Topic = Topic, Partition = Partition }
        : new DeliveryReport { Error = Error, Message = Message, Topic = Topic, Partition = Partition };
}

/// <summary>One record read by a <see cref="Consumer"/>, or a partition-end marker (<see cref="IsPartitionEof"/>).</summary>
public sealed record ConsumeResult
{
    /// <summary>Topic the record was read from.</summary>
    public required string Topic { get; init; }

    /// <summary>Partition the record was read from.</summary>
    public required int Partition { get; init; }

    /// <summary>The record's offset; for a partition-end marker, the consumer's position (the high watermark).</summary>
    public required long Offset { get; init; }

    /// <summary>The record's timestamp (ms precision); <see cref="DateTimeOffset.UnixEpoch"/> for a partition-end marker.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Key bytes, or <c>null</c>.</summary>
    public byte[]? Key { get; init; }

    /// <summary>Value bytes, or <c>null</c> for a tombstone.</summary>
    public byte[]? Value { get; init; }

    /// <summary>Headers in the order written; empty when none.</summary>
    public IReadOnlyList<RecordHeader> Headers { get; init; } = [];

    /// <summary>
    /// True for a marker that says the consumer has caught up with the partition's high watermark (Kafka's
    /// <c>enable.partition.eof</c>); only produced when <see cref="ConsumerOptions.EnablePartitionEof"/> is set.
    /// </summary>
    public bool IsPartitionEof { get; init; }

    /// <summary>The topic partition.</summary>
    public TopicPartition TopicPartition => new(Topic, Partition);

    /// <summary>The key decoded as UTF-8, or <c>null</c>.</summary>
    /// <returns>The key text.</returns>
    public string? GetKeyString() => Key is null ? null : Encoding.UTF8.GetString(Key);

    /// <summary>The value decoded as UTF-8, or <c>null</c>.</summary>
    /// <returns>The value text.</returns>
    public string? GetValueString() => Value is null ? null : Encoding.UTF8.GetString(Value);
}

/// <summary>The low and high offsets of a partition (Confluent's <c>WatermarkOffsets</c>).</summary>
/// <param name="LogStartOffset">First offset still in the log (earliest).</param>
/// <param name="HighWatermark">Offset after the last durable record (latest): a consumer at this offset is caught up.</param>
public readonly record struct WatermarkOffsets(long LogStartOffset, long HighWatermark);
