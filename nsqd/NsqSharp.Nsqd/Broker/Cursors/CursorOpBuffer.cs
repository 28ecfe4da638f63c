namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// A channel's cursor ops since the last checkpoint step, appended under the channel lock (O(1), no allocation once
/// the array has grown to the channel's rate). The checkpointer swaps the array for its spare one, also under the
/// lock, and works on the full one outside it. Bounded: past <see cref="MaxOps"/> ops the buffer stops recording and
/// says so (<see cref="Overflowed"/>); the next checkpoint then copies the live state once instead.
/// </summary>
internal sealed class CursorOpBuffer
{
    public const int DefaultMaxOps = 1 << 21; // 48 MiB of ops: > 1 s of take + FIN at a million messages a second
    private const int InitialCapacity = 256;

    private CursorOp[] _items;
    private int _count;
    private bool _recording;

    public CursorOpBuffer(bool recording, int maxOps = DefaultMaxOps)
    {
        _recording = recording;
        MaxOps = Math.Max(1, maxOps);
        _items = recording ? new CursorOp[Math.Min(InitialCapacity, MaxOps)] : [];
    }

    /// <summary>Settable for tests (the array grows to it; an overflow is noticed when the array is full).</summary>
    public int MaxOps { get; internal set; }

    /// <summary>Ops were dropped since the last <see cref="Resume"/> (the buffer reached <see cref="MaxOps"/>).</summary>
    public bool Overflowed { get; private set; }

    public int Count => _count;

    /// <summary>Channel lock held.</summary>
    public void Add(in CursorOp op)
    {
        var items = _items;
        var count = _count;
        if ((uint)count < (uint)items.Length)
        {
            items[count] = op;
            _count = count + 1;
            return;
        }

        AddSlow(op);
    }

    private void AddSlow(in CursorOp op)
    {
        if (!_recording)
        {
            return;
        }

        if (_count >= MaxOps)
        {
            // The checkpointer is not keeping up (or not running): stop recording rather than grow without bound.
            Overflowed = true;
            _recording = false;
            _items = [];
            _count = 0;
            return;
        }

        Array.Resize(ref _items, (int)Math.Min(MaxOps, Math.Max(InitialCapacity, 2L * _items.Length)));
        _items[_count++] = op;
    }

    /// <summary>Channel lock held: hands the recorded ops over in <paramref name="spare"/> (which it replaces) and
    /// returns their count. O(1).</summary>
    public int Swap(ref CursorOp[] spare)
    {
        var full = _items;
        var count = _count;
        _items = spare;
        _count = 0;
        spare = full;
        return count;
    }

    /// <summary>Channel lock held: after an overflow, once the live state was copied, records again.</summary>
    public void Resume(CursorOp[] spare)
    {
        Overflowed = false;
        _recording = true;
        _items = spare.Length > 0 ? spare : new CursorOp[InitialCapacity];
        _count = 0;
    }
}
