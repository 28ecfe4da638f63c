using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>One pending offset as a cursor's durable state knows it.</summary>
public struct CursorEntryState
{
    public ushort Attempts;

    /// <summary>Sent to a client and not yet finished (a Move that keeps in-flight messages keeps it).</summary>
    public bool InFlight;

    /// <summary>Deferred until this unix ms time; 0 = not deferred.</summary>
    public long DueMs;
}

/// <summary>
/// The durable state of a channel's cursors, kept apart from the live cursors: per partition the next read offset and
/// every pending offset with its attempts, in-flight flag and due time. The checkpointer owns one per channel and
/// applies the channel's ops to it outside the channel lock; restore builds one from the snapshot and the ops file; in
/// cluster mode a leader's partitions of it are what cursor replication copies to the followers (by
/// <see cref="PartitionCursorState.Version"/>). Not thread-safe: one owner at a time.
/// </summary>
public sealed class CursorState
{
    private readonly List<PartitionCursorState> _partitions = [];
    private PartitionCursorState? _last;

    public IReadOnlyList<PartitionCursorState> Partitions => _partitions;

    /// <summary>Pending offsets over all partitions.</summary>
    public long PendingCount
    {
        get
        {
            long count = 0;
            foreach (var p in _partitions)
            {
                count += p.Pending.Count;
            }

            return count;
        }
    }

    /// <summary>The partition's state; created (next read 0, nothing pending) if absent.</summary>
    public PartitionCursorState Partition(int partition)
    {
        if (_last?.Partition == partition)
        {
            return _last;
        }

        foreach (var p in _partitions)
        {
            if (p.Partition == partition)
            {
                return _last = p;
            }
        }

        var created = new PartitionCursorState(partition);
        _partitions.Add(created);
        return _last = created;
    }

    public bool TryGetPartition(int partition, out PartitionCursorState state)
    {
        foreach (var p in _partitions)
        {
            if (p.Partition == partition)
            {
                state = p;
                return true;
            }
        }

        state = null!;
        return false;
    }

    public void Apply(ReadOnlySpan<CursorOp> ops)
    {
        foreach (ref readonly var op in ops)
        {
            Apply(op);
        }
    }

    /// <summary>Applies one op. Ops naming an offset that is not pending change nothing (they cannot occur in a
    /// stream from one cursor, but a follower may apply ops on top of an older copy).</summary>
    public void Apply(in CursorOp op)
    {
        var p = Partition(op.Partition);
        p.Changed = true;
        switch (op.Kind)
        {
            case CursorOpKind.Read:
                for (var offset = op.Offset; offset < op.Value; offset++)
                {
                    p.Pending.TryAdd(offset, default); // one still pending (kept in flight across a seek back) stays
                }

                p.NextRead = op.Value;
                break;
            case CursorOpKind.Defer:
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(p.Pending, op.Offset);
                if (!Unsafe.IsNullRef(ref entry))
                {
                    entry.InFlight = false;
                    entry.DueMs = op.Value;
                }

                break;
            }

            case CursorOpKind.Deliver:
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(p.Pending, op.Offset);
                if (!Unsafe.IsNullRef(ref entry))
                {
                    entry.InFlight = true;
                    entry.DueMs = 0;
                    entry.Attempts = entry.Attempts == ushort.MaxValue ? ushort.MaxValue : (ushort)(entry.Attempts + 1);
                }

                break;
            }

            case CursorOpKind.Requeue:
            {
                ref var entry = ref CollectionsMarshal.GetValueRefOrNullRef(p.Pending, op.Offset);
                if (!Unsafe.IsNullRef(ref entry))
                {
                    entry.InFlight = false;
                    entry.DueMs = 0;
                }

                break;
            }

            case CursorOpKind.Finish:
                p.Pending.Remove(op.Offset);
                break;
            case CursorOpKind.Move:
                if (op.Value != 0)
                {
                    p.Pending.Clear();
                }
                else
                {
                    foreach (var (offset, entry) in p.Pending)
                    {
                        if (!entry.InFlight)
                        {
                            p.Pending.Remove(offset); // allowed while enumerating (.NET Core 3+)
                        }
                    }
                }

                p.NextRead = op.Offset;
                break;
            default:
                throw new InvalidDataException($"unknown cursor op kind {(byte)op.Kind}");
        }
    }

    /// <summary>
    /// Gives every partition changed since the last call (an op applied, a copy taken into it, newly created) the next
    /// version of <paramref name="counter"/>: replication compares versions to send a partition's state only when it
    /// changed. O(partitions).
    /// </summary>
    internal void StampChanges(ref long counter)
    {
        foreach (var p in _partitions)
        {
            if (p.Changed)
            {
                p.Version = ++counter;
                p.Changed = false;
            }
        }
    }

    /// <summary>A deep copy (for a follower's bootstrap, or a sink that needs its own).</summary>
    public CursorState Clone()
    {
        var copy = new CursorState();
        foreach (var p in _partitions)
        {
            var c = copy.Partition(p.Partition);
            c.NextRead = p.NextRead;
            c.Pending.EnsureCapacity(p.Pending.Count);
            foreach (var (offset, entry) in p.Pending)
            {
                c.Pending.Add(offset, entry);
            }
        }

        return copy;
    }

    /// <summary>Same partitions, next read offsets and pending entries.</summary>
    public bool SameAs(CursorState other)
    {
        if (_partitions.Count != other._partitions.Count)
        {
            return false;
        }

        foreach (var p in _partitions)
        {
            if (!other.TryGetPartition(p.Partition, out var o) || o.NextRead != p.NextRead || o.Pending.Count != p.Pending.Count)
            {
                return false;
            }

            foreach (var (offset, entry) in p.Pending)
            {
                if (!o.Pending.TryGetValue(offset, out var e) || e.Attempts != entry.Attempts || e.InFlight != entry.InFlight ||
                    e.DueMs != entry.DueMs)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>A readable description of the first difference (tests).</summary>
    public string? FirstDifference(CursorState other)
    {
        foreach (var p in _partitions)
        {
            if (!other.TryGetPartition(p.Partition, out var o))
            {
                return $"partition {p.Partition} missing";
            }

            if (o.NextRead != p.NextRead)
            {
                return $"partition {p.Partition}: next read {p.NextRead} vs {o.NextRead}";
            }

            foreach (var (offset, entry) in p.Pending)
            {
                if (!o.Pending.TryGetValue(offset, out var e))
                {
                    return $"partition {p.Partition}: offset {offset} pending only on one side";
                }

                if (e.Attempts != entry.Attempts || e.InFlight != entry.InFlight || e.DueMs != entry.DueMs)
                {
                    return $"partition {p.Partition}: offset {offset}: attempts {entry.Attempts}/{e.Attempts}, in flight {entry.InFlight}/{e.InFlight}, due {entry.DueMs}/{e.DueMs}";
                }
            }

            if (o.Pending.Count != p.Pending.Count)
            {
                return $"partition {p.Partition}: {p.Pending.Count} vs {o.Pending.Count} pending";
            }
        }

        return _partitions.Count != other._partitions.Count ? "partition count differs" : null;
    }
}

/// <summary>One partition of a <see cref="CursorState"/> (also what cursor replication carries).</summary>
public sealed class PartitionCursorState(int partition)
{
    public int Partition { get; } = partition;

    public long NextRead { get; set; }

    public Dictionary<long, CursorEntryState> Pending { get; private set; } = [];

    /// <summary>
    /// Which state of this partition this is, in its checkpointer's numbering (a random start per channel instance,
    /// then one more per checkpoint step that changed the partition): equal versions from one leader mean the same
    /// state. 0 = none (not from a checkpointer).
    /// </summary>
    public long Version { get; set; }

    /// <summary>Changed since the last <see cref="CursorState.StampChanges"/> (a new partition is).</summary>
    internal bool Changed { get; set; } = true;

    /// <summary>Replaces the pending set with an empty one of this capacity.</summary>
    public void ResetPending(int capacity) => Pending = new Dictionary<long, CursorEntryState>(capacity);

    /// <summary>A deep copy with the same version.</summary>
    public PartitionCursorState Copy() => new(Partition)
    {
        NextRead = NextRead,
        Version = Version,
        Pending = new Dictionary<long, CursorEntryState>(Pending),
        Changed = false,
    };
}
