using System.Collections.Concurrent;

namespace NsqSharp.Chaos.Workload;

/// <summary>What the run has seen so far, so the final drain knows when every acknowledged value came out (the checker
/// itself works only from the history file).</summary>
internal sealed class DequeueTracker
{
    private readonly ConcurrentDictionary<string, byte> _acked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _dequeued = new(StringComparer.Ordinal);
    private long _lastDequeueAt = TimeProvider.System.GetTimestamp();

    public void Acked(string value) => _acked.TryAdd(value, 0);

    public void Dequeued(string value)
    {
        _dequeued.TryAdd(value, 0);
        Interlocked.Exchange(ref _lastDequeueAt, TimeProvider.System.GetTimestamp());
    }

    public long DequeuedCount => _dequeued.Count;

    /// <summary>Acknowledged values not dequeued yet.</summary>
    public int Missing => _acked.Keys.Count(v => !_dequeued.ContainsKey(v));

    public TimeSpan SinceLastDequeue => TimeProvider.System.GetElapsedTime(Interlocked.Read(ref _lastDequeueAt));
}
