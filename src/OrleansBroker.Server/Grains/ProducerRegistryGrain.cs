using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansBroker.Server.Grains;

/// <summary>
/// Issues producer ids (Kafka's InitProducerId, KIP-98) and bumps epochs (KIP-360), per SEMANTICS.md "ProducerRegistry".
/// PIDs come from blocks of <see cref="BrokerOptions.ProducerIdBlockSize"/>: a block's end is written durably before any PID of it is
/// handed out, and a new activation resumes at the next block, so no PID is ever issued twice. Epochs are written before they are returned.
/// </summary>
/// <remarks>Not reentrant: one request at a time. A failed storage write answers <see cref="ErrorCode.KafkaStorageError"/> (retriable)
/// to it and every later request, and deactivates the grain so the next activation reloads the stored truth.</remarks>
internal sealed partial class ProducerRegistryGrain : Grain, IProducerRegistryGrain
{
    /// <summary>The registry's grain key.</summary>
    public const long Key = 0;

    /// <summary>Name of the registry's state in grain storage.</summary>
    public const string StateName = "producer-registry";

    /// <summary>An epoch at or above this is exhausted: the next bump hands out a new PID (Kafka: <c>Short.MAX_VALUE - 1</c>).</summary>
    public const short ExhaustedEpoch = short.MaxValue - 1;

    /// <summary>Marks a PID retired after its epoch was exhausted: no request on it succeeds again.</summary>
    private const short RetiredEpoch = short.MaxValue;

    private readonly IPersistentState<ProducerRegistryState> _state;
    private readonly int _blockSize;
    private readonly ILogger<ProducerRegistryGrain> _logger;
    private long _nextProducerId;
    private long _blockEnd;
    private bool _faulted;

    public ProducerRegistryGrain(
        [PersistentState(StateName, BrokerGrainStorage.ProviderName)] IPersistentState<ProducerRegistryState> state,
        IOptions<BrokerOptions> options,
        ILogger<ProducerRegistryGrain> logger)
    {
        _state = state;
        _blockSize = options.Value.ProducerIdBlockSize;
        _logger = logger;
    }

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Everything below NextBlockStart was reserved by an earlier activation; the unused part of its last block is skipped.
        _nextProducerId = _state.State.NextBlockStart;
        _blockEnd = _nextProducerId;
        LogActivated(_logger, _nextProducerId, _state.State.Epochs.Count, _state.State.Identities.Count);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<InitProducerIdResult> InitProducerIdAsync(InitProducerIdRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_faulted)
        {
            return StorageFailed();
        }

        if (!string.IsNullOrEmpty(request.ProducerIdentity))
        {
            return await InitIdentityAsync(request.ProducerIdentity);
        }

        if (request.ProducerId < 0)
        {
            long producerId = await IssueAsync();
            return producerId < 0 ? StorageFailed() : Issued(producerId, 0);
        }

        return await BumpAsync(request.ProducerId, request.ProducerEpoch);
    }

    private async Task<InitProducerIdResult> BumpAsync(long producerId, short epoch)
    {
        if (producerId >= _nextProducerId)
        {
            LogUnknownProducerId(_logger, producerId, _nextProducerId);
            return new InitProducerIdResult(ErrorCode.UnknownProducerId, -1, -1);
        }

        // A PID never bumped has epoch 0 (only bumped epochs are stored).
        short current = _state.State.Epochs.GetValueOrDefault(producerId);
        if (current == RetiredEpoch)
        {
            LogFenced(_logger, producerId, epoch, current);
            return new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1);
        }

        if (epoch == current)
        {
            if (current >= ExhaustedEpoch)
            {
                return await ReplaceExhaustedAsync(producerId, identity: null);
            }

            short next = (short)(current + 1);
            _state.State.Epochs[producerId] = next;
            if (!await PersistAsync())
            {
                return StorageFailed();
            }

            LogBumped(_logger, producerId, current, next);
            return Issued(producerId, next);
        }

        if (epoch >= 0 && epoch == current - 1)
        {
            // A retried bump whose reply was lost: the bump already happened; hand out the same epoch again.
            return Issued(producerId, current);
        }

        LogFenced(_logger, producerId, epoch, current);
        return new InitProducerIdResult(ErrorCode.InvalidProducerEpoch, -1, -1);
    }

    /// <summary>
    /// A stable producer identity (beyond Kafka; like <c>transactional.id</c> without transactions): the first call binds a new PID at
    /// epoch 0, every later call bumps its epoch (stored first), fencing the previous incarnation. The request's PID and epoch are ignored.
    /// </summary>
    private async Task<InitProducerIdResult> InitIdentityAsync(string identity)
    {
        if (!_state.State.Identities.TryGetValue(identity, out long producerId))
        {
            long issued = await IssueAsync();
            if (issued < 0)
            {
                return StorageFailed();
            }

            _state.State.Identities[identity] = issued;
            _state.State.Epochs[issued] = 0;
            if (!await PersistAsync())
            {
                return StorageFailed();
            }

            LogIdentityBound(_logger, identity, issued);
            return Issued(issued, 0);
        }

        short current = _state.State.Epochs.GetValueOrDefault(producerId);
        if (current >= ExhaustedEpoch)
        {
            return await ReplaceExhaustedAsync(producerId, identity);
        }

        // A new incarnation of the producer: bump so the previous one is fenced at every partition it writes to.
        short next = (short)(current + 1);
        _state.State.Epochs[producerId] = next;
        if (!await PersistAsync())
        {
            return StorageFailed();
        }

        LogBumped(_logger, producerId, current, next);
        return Issued(producerId, next);
    }

    private async Task<InitProducerIdResult> ReplaceExhaustedAsync(long producerId, string? identity)
    {
        long replacement = await IssueAsync();
        if (replacement < 0)
        {
            return StorageFailed();
        }

        _state.State.Epochs[producerId] = RetiredEpoch;
        if (identity is not null)
        {
            _state.State.Identities[identity] = replacement;
            _state.State.Epochs[replacement] = 0;
        }

        if (!await PersistAsync())
        {
            return StorageFailed();
        }

        LogEpochExhausted(_logger, producerId, replacement);
        return Issued(replacement, 0);
    }

    /// <summary>Hands out the next PID, first reserving a new block durably when the current one is used up.</summary>
    /// <returns>The PID, or -1 when the block could not be recorded.</returns>
    private async Task<long> IssueAsync()
    {
        if (_nextProducerId >= _blockEnd)
        {
            long blockStart = _state.State.NextBlockStart;
            long blockEnd = checked(blockStart + _blockSize);
            _state.State.NextBlockStart = blockEnd;
            if (!await PersistAsync())
            {
                return -1;
            }

            _nextProducerId = blockStart;
            _blockEnd = blockEnd;
            LogBlockReserved(_logger, blockStart, blockEnd);
        }

        return _nextProducerId++;
    }

    private async Task<bool> PersistAsync()
    {
        try
        {
            await _state.WriteStateAsync();
            return true;
        }
#pragma warning disable CA1031 // A storage provider may throw anything; the outcome is unknown either way, so the grain faults and reloads.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _faulted = true;
            LogWriteFailed(_logger, ex);
            DeactivateOnIdle();
            return false;
        }
    }

    private static InitProducerIdResult Issued(long producerId, short epoch) => new(ErrorCode.None, producerId, epoch);

    private static InitProducerIdResult StorageFailed() => new(ErrorCode.KafkaStorageError, -1, -1);

    [LoggerMessage(1, LogLevel.Information, "Producer registry activated: next PID block starts at {NextBlockStart}; {EpochCount} epochs and {IdentityCount} identities stored")]
    private static partial void LogActivated(ILogger logger, long nextBlockStart, int epochCount, int identityCount);

    [LoggerMessage(2, LogLevel.Information, "Reserved producer id block [{BlockStart}, {BlockEnd})")]
    private static partial void LogBlockReserved(ILogger logger, long blockStart, long blockEnd);

    [LoggerMessage(3, LogLevel.Debug, "Bumped producer {ProducerId} from epoch {OldEpoch} to {NewEpoch}")]
    private static partial void LogBumped(ILogger logger, long producerId, short oldEpoch, short newEpoch);

    [LoggerMessage(4, LogLevel.Debug, "Refused InitProducerId for producer {ProducerId} epoch {Epoch}: current epoch is {CurrentEpoch}")]
    private static partial void LogFenced(ILogger logger, long producerId, short epoch, short currentEpoch);

    [LoggerMessage(5, LogLevel.Debug, "Refused InitProducerId for unknown producer {ProducerId}: no PID at or above {NextProducerId} was issued")]
    private static partial void LogUnknownProducerId(ILogger logger, long producerId, long nextProducerId);

    [LoggerMessage(6, LogLevel.Information, "Producer {ProducerId} exhausted its epochs; issued {NewProducerId}")]
    private static partial void LogEpochExhausted(ILogger logger, long producerId, long newProducerId);

    [LoggerMessage(7, LogLevel.Debug, "Bound producer identity {Identity} to producer {ProducerId}")]
    private static partial void LogIdentityBound(ILogger logger, string identity, long producerId);

    [LoggerMessage(8, LogLevel.Error, "Producer registry could not write its state; answering KafkaStorageError and deactivating to reload")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception);
}
