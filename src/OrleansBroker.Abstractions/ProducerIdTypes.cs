namespace OrleansBroker;

/// <summary>
/// A request for a producer id (Kafka's InitProducerId). With no id: a new PID at epoch 0. With an id and epoch
/// (KIP-360): the epoch is bumped. With a <see cref="ProducerIdentity"/>: the identity's stable PID with its epoch bumped.
/// </summary>
/// <param name="ProducerId">The current PID to bump, or -1 for a new one.</param>
/// <param name="ProducerEpoch">The current epoch of <paramref name="ProducerId"/>, or -1.</param>
/// <param name="ProducerIdentity">A stable name for the producer (beyond Kafka: idempotence that survives a process restart),
/// or <c>null</c>. Plays the role of Kafka's <c>transactional.id</c> for PID stability.</param>
[GenerateSerializer]
[Alias("OrleansBroker.InitProducerIdRequest")]
public sealed record InitProducerIdRequest(
    [property: Id(0)] long ProducerId = -1,
    [property: Id(1)] short ProducerEpoch = -1,
    [property: Id(2)] string? ProducerIdentity = null);

/// <summary>A producer id and epoch handed out by the registry.</summary>
/// <param name="Error"><see cref="ErrorCode.None"/>, or <see cref="ErrorCode.InvalidProducerEpoch"/> when the given epoch is neither the current nor the previous one.</param>
/// <param name="ProducerId">The PID; -1 on error.</param>
/// <param name="ProducerEpoch">The epoch to use; -1 on error.</param>
[GenerateSerializer]
[Alias("OrleansBroker.InitProducerIdResult")]
public sealed record InitProducerIdResult(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] long ProducerId,
    [property: Id(2)] short ProducerEpoch);
