namespace OrleansBroker.Client;

/// <summary>
/// Root of every error the OrleansBroker client reports: carries the broker's <see cref="OrleansBroker.ErrorCode"/>
/// (Kafka's protocol numbers) and whether retrying can help.
/// </summary>
public class BrokerException : Exception
{
    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    public BrokerException()
        : this(ErrorCode.UnknownServerError, "The broker reported an error.")
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    public BrokerException(string message)
        : this(ErrorCode.UnknownServerError, message)
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public BrokerException(string message, Exception? innerException)
        : this(ErrorCode.UnknownServerError, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="errorCode">The broker error code.</param>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause, e.g. an Orleans <c>TimeoutException</c>.</param>
    public BrokerException(ErrorCode errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The broker's error code (<see cref="ErrorCode.RequestTimedOut"/> for a call that failed in transport).</summary>
    public ErrorCode ErrorCode { get; }

    /// <summary>True when the same request may succeed if sent again (Kafka's <c>RetriableException</c>).</summary>
    public virtual bool IsRetriable => ErrorCode.IsRetriable();

    /// <summary>True when the client object that raised it can no longer be used (e.g. a fenced producer).</summary>
    public virtual bool IsFatal => false;
}

/// <summary>A record could not be delivered. Carries the record and the partition it was meant for.</summary>
public class ProduceException : BrokerException
{
    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    public ProduceException()
        : this(ErrorCode.UnknownServerError, "The record was not delivered.")
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    public ProduceException(string message)
        : this(ErrorCode.UnknownServerError, message)
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public ProduceException(string message, Exception? innerException)
        : this(ErrorCode.UnknownServerError, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="errorCode">The broker error code.</param>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    /// <param name="topicPartition">The partition the record was meant for, when one was chosen.</param>
    /// <param name="failedMessage">The record.</param>
    /// <param name="possiblyPersisted">True when an attempt may have been written although it was not acknowledged.</param>
    public ProduceException(ErrorCode errorCode, string message, Exception? innerException = null, TopicPartition? topicPartition = null, Message? failedMessage = null, bool possiblyPersisted = false)
        : base(errorCode, message, innerException)
    {
        TopicPartition = topicPartition;
        FailedMessage = failedMessage;
        PossiblyPersisted = possiblyPersisted;
    }

    /// <summary>The partition the record was meant for, or <c>null</c> when it failed before a partition was chosen.</summary>
    public TopicPartition? TopicPartition { get; }

    /// <summary>The record that was not delivered (when known).</summary>
    public Message? FailedMessage { get; }

    /// <summary>
    /// True when a send of this record timed out or lost its reply, so the broker may hold it even though no
    /// acknowledgement arrived (Kafka's "delivery outcome unknown"). False: the record is known not to be in the log.
    /// </summary>
    public bool PossiblyPersisted { get; }

    /// <summary>Returns a copy bound to one record.</summary>
    /// <param name="topicPartition">The record's partition.</param>
    /// <param name="message">The record.</param>
    /// <returns>The copy.</returns>
    internal virtual ProduceException ForRecord(TopicPartition? topicPartition, Message message) =>
        new(ErrorCode, Message, InnerException, topicPartition, message, PossiblyPersisted);

    /// <summary>Returns a copy with <see cref="PossiblyPersisted"/> set (for a batch that had a send in flight or of unknown outcome).</summary>
    /// <returns>The copy.</returns>
    internal virtual ProduceException AsPossiblyPersisted() =>
        new(ErrorCode, Message, InnerException, TopicPartition, FailedMessage, possiblyPersisted: true);
}

/// <summary>
/// The producer was fenced: a newer incarnation with the same producer id (or stable producer identity) bumped the
/// producer epoch (<see cref="ErrorCode.InvalidProducerEpoch"/>, Kafka's <c>ProducerFencedException</c>). Fatal: the
/// producer fails every pending record and refuses new ones; create a new producer.
/// </summary>
public sealed class ProducerFencedException : ProduceException
{
    /// <summary>Creates an exception.</summary>
    public ProducerFencedException()
        : this("The producer was fenced by a newer epoch.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason.</param>
    public ProducerFencedException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public ProducerFencedException(string message, Exception? innerException)
        : base(ErrorCode.InvalidProducerEpoch, message, innerException)
    {
    }

    private ProducerFencedException(string message, TopicPartition? topicPartition, Message? failedMessage, bool possiblyPersisted)
        : base(ErrorCode.InvalidProducerEpoch, message, null, topicPartition, failedMessage, possiblyPersisted)
    {
    }

    /// <summary>Always false.</summary>
    public override bool IsRetriable => false;

    /// <summary>Always true.</summary>
    public override bool IsFatal => true;

    /// <inheritdoc/>
    internal override ProduceException ForRecord(TopicPartition? topicPartition, Message message) =>
        new ProducerFencedException(Message, topicPartition, message, PossiblyPersisted);

    /// <inheritdoc/>
    internal override ProduceException AsPossiblyPersisted() =>
        new ProducerFencedException(Message, TopicPartition, FailedMessage, possiblyPersisted: true);
}

/// <summary>
/// A record was not acknowledged within <see cref="ProducerOptions.DeliveryTimeout"/> (Kafka's
/// <c>delivery.timeout.ms</c>) of being given to the producer. <see cref="ProduceException.PossiblyPersisted"/> says
/// whether a send may have been written.
/// </summary>
public sealed class DeliveryTimeoutException : ProduceException
{
    /// <summary>Creates an exception.</summary>
    public DeliveryTimeoutException()
        : this("The record was not acknowledged within the delivery timeout.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason.</param>
    public DeliveryTimeoutException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The last error seen.</param>
    public DeliveryTimeoutException(string message, Exception? innerException)
        : base(ErrorCode.RequestTimedOut, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The last error seen.</param>
    /// <param name="topicPartition">The partition.</param>
    /// <param name="failedMessage">The record.</param>
    /// <param name="possiblyPersisted">True when a send may have been written.</param>
    public DeliveryTimeoutException(string message, Exception? innerException, TopicPartition? topicPartition, Message? failedMessage, bool possiblyPersisted)
        : base(ErrorCode.RequestTimedOut, message, innerException, topicPartition, failedMessage, possiblyPersisted)
    {
    }

    /// <summary>Always false: the producer already retried for the whole delivery timeout.</summary>
    public override bool IsRetriable => false;

    /// <inheritdoc/>
    internal override ProduceException ForRecord(TopicPartition? topicPartition, Message message) =>
        new DeliveryTimeoutException(Message, InnerException, topicPartition, message, PossiblyPersisted);
}

/// <summary>A consumer could not read a partition (e.g. <see cref="ErrorCode.OffsetOutOfRange"/>, <see cref="ErrorCode.UnknownTopicOrPartition"/>).</summary>
public class ConsumeException : BrokerException
{
    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    public ConsumeException()
        : this(ErrorCode.UnknownServerError, "The consumer failed.")
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    public ConsumeException(string message)
        : this(ErrorCode.UnknownServerError, message)
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public ConsumeException(string message, Exception? innerException)
        : this(ErrorCode.UnknownServerError, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="errorCode">The broker error code.</param>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    /// <param name="topicPartition">The partition being read.</param>
    /// <param name="offset">The position the consumer was at.</param>
    public ConsumeException(ErrorCode errorCode, string message, Exception? innerException = null, TopicPartition? topicPartition = null, long offset = -1)
        : base(errorCode, message, innerException)
    {
        TopicPartition = topicPartition;
        Offset = offset;
    }

    /// <summary>The partition being read, when the error concerns one.</summary>
    public TopicPartition? TopicPartition { get; }

    /// <summary>The consumer's position in that partition when the error happened; -1 when unknown.</summary>
    public long Offset { get; }
}

/// <summary>A topic administration call failed (<see cref="ErrorCode.TopicAlreadyExists"/>, <see cref="ErrorCode.InvalidTopic"/>, ...).</summary>
public class AdminException : BrokerException
{
    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    public AdminException()
        : this(ErrorCode.UnknownServerError, "The admin request failed.")
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    public AdminException(string message)
        : this(ErrorCode.UnknownServerError, message)
    {
    }

    /// <summary>Creates an exception with <see cref="ErrorCode.UnknownServerError"/>.</summary>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public AdminException(string message, Exception? innerException)
        : this(ErrorCode.UnknownServerError, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="errorCode">The broker error code.</param>
    /// <param name="message">One-line reason.</param>
    /// <param name="innerException">The cause.</param>
    /// <param name="topic">The topic concerned.</param>
    public AdminException(ErrorCode errorCode, string message, Exception? innerException = null, string? topic = null)
        : base(errorCode, message, innerException)
    {
        Topic = topic;
    }

    /// <summary>The topic the request was about, when it named one.</summary>
    public string? Topic { get; }
}

/// <summary>The client could not connect to any gateway within <see cref="BrokerClientOptions.StartupTimeout"/>.</summary>
public sealed class BrokerConnectionException : BrokerException
{
    /// <summary>Creates an exception.</summary>
    public BrokerConnectionException()
        : this("Cannot reach the broker.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason naming the gateways.</param>
    public BrokerConnectionException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">One-line reason naming the gateways.</param>
    /// <param name="innerException">The last connection error.</param>
    public BrokerConnectionException(string message, Exception? innerException)
        : base(ErrorCode.RequestTimedOut, message, innerException)
    {
    }

    /// <summary>True: the broker may come up later.</summary>
    public override bool IsRetriable => true;
}
