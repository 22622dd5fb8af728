using OrleansBroker.Protocol;

namespace OrleansBroker.ClusterTests.Infrastructure.Faults;

/// <summary>
/// The silo-side incoming grain call filter: records where each grain runs, attributes outgoing calls to the current turn, and applies
/// the <see cref="FaultSite.Silo"/> rules of the cluster's <see cref="FaultController"/>. Registered by <see cref="FaultSiloConfigurator"/>.
/// </summary>
internal sealed class SiloFaultFilter(FaultController controller, ILocalSiloDetails silo, IGrainFactory grainFactory) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        controller.Journal.RecordIncoming(context.TargetId, silo.SiloAddress);
        using IDisposable turn = CallJournal.EnterTurn(context.TargetId, InterfaceOf(context), MethodName(context));
        if (RequestContext.Get(FaultController.BypassKey) is not null)
        {
            // A delivery made by the fault machinery itself (DeliverTwice): never faulted again.
            await context.Invoke();
            return;
        }

        object? firstArgument = FirstArgument(context);
        CallFaultRule? rule = controller.Claim(FaultSite.Silo, context.TargetId, InterfaceOf(context), MethodName(context), firstArgument, out RecordBatchHeader? header);
        if (rule is null)
        {
            await context.Invoke();
            return;
        }

        if (rule.Kind == CallFaultKind.DeliverTwice)
        {
            if (rule.EntryGate is { } entry)
            {
                await entry.PassAsync();
            }

            // Copy before the call runs: the partition grain rewrites the base offset of the batch in place.
            byte[] copy = BatchOf(firstArgument)!.Value.ToArray();
            await InvokeAndRecordAsync(context, rule, header);
            GrainId target = context.TargetId;
            rule.AddDuplicate(Task.Run(() =>
            {
                RequestContext.Clear();
                CallJournal.LeaveTurn();
                RequestContext.Set(FaultController.BypassKey, true);
                return grainFactory.GetGrain<IPartitionGrain>(target).ProduceAsync(copy);
            }));
            return;
        }

        await FaultActions.ApplyAsync(rule, context, header, () => InvokeAndRecordAsync(context, rule, header));
    }

    internal static Type? InterfaceOf(IGrainCallContext context) => context.InterfaceMethod?.DeclaringType;

    internal static string? MethodName(IGrainCallContext context) => context.InterfaceMethod?.Name ?? context.MethodName;

    /// <summary>The record batch a produce call carries (<see cref="IPartitionGrain.ProduceAsync"/>'s argument), or <c>null</c>.</summary>
    internal static ReadOnlyMemory<byte>? BatchOf(object? firstArgument) => firstArgument switch
    {
        BatchBytes batch => batch.Memory,
        ReadOnlyMemory<byte> memory => memory,
        byte[] array => array,
        _ => null,
    };

    internal static object? FirstArgument(IGrainCallContext context) =>
        context.Request.GetArgumentCount() > 0 ? context.Request.GetArgument(0) : null;

    private static async Task InvokeAndRecordAsync(IGrainCallContext context, CallFaultRule rule, RecordBatchHeader? header)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception ex)
        {
            rule.Record(new InterceptedCall(header, Invoked: true, null, ex));
            throw;
        }

        rule.Record(new InterceptedCall(header, Invoked: true, context.Result, null));
    }
}

/// <summary>
/// The silo-side outgoing grain call filter: records every grain call made by silo code into <see cref="CallJournal"/>, with the turn it
/// was made in. Registered by <see cref="FaultSiloConfigurator"/>.
/// </summary>
internal sealed class SiloOutgoingObserver(FaultController controller, ILocalSiloDetails silo) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        controller.Journal.RecordOutgoing(silo.SiloAddress, context.SourceId, context.TargetId, SiloFaultFilter.InterfaceOf(context), SiloFaultFilter.MethodName(context));
        return context.Invoke();
    }
}

/// <summary>
/// The client-side outgoing grain call filter: applies the <see cref="FaultSite.Client"/> rules before a call leaves the test cluster's
/// client. Registered by <see cref="FaultClientConfigurator"/>.
/// </summary>
internal sealed class ClientFaultFilter(FaultController controller) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        object? firstArgument = SiloFaultFilter.FirstArgument(context);
        CallFaultRule? rule = controller.Claim(FaultSite.Client, context.TargetId, SiloFaultFilter.InterfaceOf(context), SiloFaultFilter.MethodName(context), firstArgument, out RecordBatchHeader? header);
        if (rule is null)
        {
            await context.Invoke();
            return;
        }

        if (rule.Kind == CallFaultKind.DeliverTwice)
        {
            throw new InvalidOperationException($"{rule}: DeliverTwice acts in the silo only.");
        }

        await FaultActions.ApplyAsync(rule, context, header, async () =>
        {
            await context.Invoke();
            rule.Record(new InterceptedCall(header, Invoked: true, context.Result, null));
        });
    }
}

/// <summary>The actions shared by the silo and client filters.</summary>
internal static class FaultActions
{
    public static async Task ApplyAsync(CallFaultRule rule, IGrainCallContext context, RecordBatchHeader? header, Func<Task> invoke)
    {
        string? method = SiloFaultFilter.MethodName(context);
        if (rule.EntryGate is { } entry)
        {
            await entry.PassAsync();
        }

        switch (rule.Kind)
        {
            case CallFaultKind.Observe:
                await invoke();
                break;

            case CallFaultKind.LoseReply:
                await invoke();
                throw rule.CreateException(context.TargetId, method);

            case CallFaultKind.FailBeforeInvoke:
                rule.Record(new InterceptedCall(header, Invoked: false, null, null));
                throw rule.CreateException(context.TargetId, method);

            case CallFaultKind.ReplyWithoutInvoke:
                rule.Record(new InterceptedCall(header, Invoked: false, null, null));
                context.Result = rule.ResultFactory!();
                break;

            case CallFaultKind.Hold:
                if (rule.Point == FaultPoint.BeforeInvoke)
                {
                    await rule.Gate!.PassAsync();
                    await invoke();
                }
                else
                {
                    await invoke();
                    await rule.Gate!.PassAsync();
                }

                break;

            case CallFaultKind.Delay:
                if (rule.Point == FaultPoint.BeforeInvoke)
                {
                    await Task.Delay(rule.DelayDuration, rule.DelayClock);
                    await invoke();
                }
                else
                {
                    await invoke();
                    await Task.Delay(rule.DelayDuration, rule.DelayClock);
                }

                break;

            default:
                throw new InvalidOperationException($"{rule}: unsupported here.");
        }
    }
}
