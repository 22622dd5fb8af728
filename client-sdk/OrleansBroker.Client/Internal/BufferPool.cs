namespace OrleansBroker.Client.Internal;

/// <summary>
/// Bounds the bytes of records a producer holds (Kafka's <c>buffer.memory</c>). Waiters are served in arrival order;
/// a reservation larger than the whole capacity is granted when nothing else is held.
/// </summary>
internal sealed class BufferPool(long capacity)
{
    private readonly Lock _sync = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _used;
    private Exception? _closed;

    /// <summary>Bytes reserved now.</summary>
    public long Used
    {
        get
        {
            lock (_sync)
            {
                return _used;
            }
        }
    }

    /// <summary>Reserves without waiting.</summary>
    public bool TryReserve(long size)
    {
        lock (_sync)
        {
            if (_closed is not null)
            {
                throw _closed;
            }

            if (_waiters.Count == 0 && Fits(size))
            {
                _used += size;
                return true;
            }

            return false;
        }
    }

    /// <summary>Reserves, waiting up to <paramref name="timeout"/> for space.</summary>
    /// <exception cref="TimeoutException">No space within <paramref name="timeout"/>.</exception>
    public async Task ReserveAsync(long size, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (_sync)
        {
            if (_closed is not null)
            {
                throw _closed;
            }

            if (_waiters.Count == 0 && Fits(size))
            {
                _used += size;
                return;
            }

            waiter = new Waiter(size);
            node = _waiters.AddLast(waiter);
        }

        try
        {
            await waiter.Granted.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            lock (_sync)
            {
                if (node.List is not null)
                {
                    _waiters.Remove(node);
                    GrantLocked();
                    throw;
                }
            }

            // Granted while timing out: keep the grant only if it did not fail.
            if (!waiter.Granted.Task.IsCompletedSuccessfully)
            {
                throw;
            }

            Release(size);
            throw;
        }
    }

    /// <summary>Returns bytes and wakes waiters that now fit.</summary>
    public void Release(long size)
    {
        lock (_sync)
        {
            _used -= size;
            GrantLocked();
        }
    }

    /// <summary>Fails every waiter and every later reservation with <paramref name="error"/>.</summary>
    public void Close(Exception error)
    {
        lock (_sync)
        {
            _closed = error;
            foreach (Waiter w in _waiters)
            {
                w.Granted.TrySetException(error);
            }

            _waiters.Clear();
        }
    }

    private bool Fits(long size) => _used == 0 || _used + size <= capacity;

    private void GrantLocked()
    {
        while (_waiters.First is { } first && Fits(first.Value.Size))
        {
            _waiters.RemoveFirst();
            _used += first.Value.Size;
            first.Value.Granted.TrySetResult();
        }
    }

    private sealed class Waiter(long size)
    {
        public long Size { get; } = size;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
