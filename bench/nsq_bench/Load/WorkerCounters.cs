using System.Runtime.InteropServices;

namespace NsqSharp.Bench.Load;

/// <summary>
/// One counter slot per worker, each on its own cache line: workers add without contention or
/// atomics (single writer per slot), the sampler sums the slots once per interval.
/// </summary>
internal sealed class WorkerCounters
{
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Slot
    {
        [FieldOffset(64)]
        public long Value;
    }

    private readonly Slot[] _slots;

    public WorkerCounters(int workers) => _slots = new Slot[Math.Max(1, workers)];

    public int Count => _slots.Length;

    public void Add(int worker, long amount) => Volatile.Write(ref _slots[worker].Value, _slots[worker].Value + amount);

    public long Total()
    {
        long total = 0;
        for (var i = 0; i < _slots.Length; i++)
        {
            total += Volatile.Read(ref _slots[i].Value);
        }

        return total;
    }
}
