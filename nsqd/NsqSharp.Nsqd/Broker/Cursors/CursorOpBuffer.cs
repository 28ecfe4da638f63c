namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// A channel's cursor ops since the last checkpoint step, appended under the channel lock (O(1), no allocation once
/// the array has grown to the channel's rate). The checkpointer swaps the array for its spare one, also under the
/// lock, and works on the full one outside it.
/// <para>
/// Two ways to stop recording until the next step, which then copies the live state instead of applying ops: when the
/// ops outnumber <see cref="StopForCopyAt"/> and <see cref="StopForCopy"/> says a copy is cheap (a small pending set
/// and nobody else needs the ops: the common busy channel, which would otherwise record millions of ops a second for
/// nothing), and, as a bound on memory, at <see cref="MaxOps"/> (the checkpointer fell far behind). While stopped for
/// a copy, every op dropped calls <see cref="WhileStopped"/>, which copies the state as soon as the pending set
/// outgrows a cheap copy and resumes recording from there (<see cref="ResumeFromCopy"/>): the copy is always taken at
/// a bounded size. (Each op is recorded after its change is made, so a copy taken when an op is dropped contains it.)
/// </para>
/// </summary>
internal sealed class CursorOpBuffer
{
    public const int DefaultMaxOps = 1 << 21; // 48 MiB of ops: > 1 s of take + FIN at a million messages a second
    private const int InitialCapacity = 256;

    private CursorOp[] _items;
    private CursorOp[]? _stash;
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

    /// <summary>Channel lock held: true when copying the live state at the next step is cheap and no sink needs the
    /// ops. Asked only when the array is full and holds at least <see cref="StopForCopyAt"/> ops.</summary>
    public Func<bool>? StopForCopy { get; set; }

    public int StopForCopyAt { get; set; } = int.MaxValue;

    /// <summary>Channel lock held: called for each op dropped while <see cref="StoppedForCopy"/>.</summary>
    public Action? WhileStopped { get; set; }

    /// <summary>Recording resumed after a copy of the live state was taken: the ops since follow that copy.</summary>
    public bool ResumedFromCopy { get; private set; }

    /// <summary>Ops were dropped since the last <see cref="Resume"/> (the buffer reached <see cref="MaxOps"/>).</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Recording stopped because the next step copies the live state (see <see cref="StopForCopy"/>).</summary>
    public bool StoppedForCopy { get; private set; }

    /// <summary>Ops recorded (exact under the channel lock; a hint without it).</summary>
    public int Count => Volatile.Read(ref _count);

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
            if (StoppedForCopy)
            {
                WhileStopped?.Invoke();
            }

            return;
        }

        if (_count >= StopForCopyAt && StopForCopy?.Invoke() == true)
        {
            StoppedForCopy = true;
            Stop();
            return;
        }

        if (_count >= MaxOps)
        {
            // The checkpointer is not keeping up (or not running): stop recording rather than grow without bound.
            Overflowed = true;
            Stop();
            return;
        }

        Array.Resize(ref _items, (int)Math.Min(MaxOps, Math.Max(InitialCapacity, 2L * _items.Length)));
        _items[_count++] = op;
    }

    private void Stop()
    {
        _recording = false;
        _stash = _items; // kept for Resume: no new array every second
        _items = [];
        _count = 0;
    }

    /// <summary>
    /// Channel lock held: the live state was changed in a way no op describes (a follower's copy replaced by the
    /// leader's replicated state): stop recording, so the next step copies the live state (and snapshots it), as when
    /// stopped for a copy. Already stopped: the next step copies anyway.
    /// </summary>
    public void RequestCopy()
    {
        if (_recording)
        {
            StoppedForCopy = true;
            Stop();
        }
    }

    /// <summary>Channel lock held: hands the recorded ops over in <paramref name="spare"/> (which it replaces) and
    /// returns their count. O(1). Not while stopped (see <see cref="Resume"/>).</summary>
    public int Swap(ref CursorOp[] spare)
    {
        var full = _items;
        var count = _count;
        _items = spare;
        _count = 0;
        spare = full;
        return count;
    }

    /// <summary>Channel lock held: after a stop, once the live state was copied, records again.</summary>
    public void Resume()
    {
        Overflowed = false;
        StoppedForCopy = false;
        ResumedFromCopy = false;
        _recording = true;
        _items = _stash ?? new CursorOp[InitialCapacity];
        _stash = null;
        _count = 0;
    }

    /// <summary>Channel lock held: stopped for a copy, a copy was just taken; ops from here on follow it.</summary>
    public void ResumeFromCopy()
    {
        Resume();
        ResumedFromCopy = true;
    }

    /// <summary>Channel lock held: the checkpointer took the copy that the ops follow.</summary>
    public void CopyTaken() => ResumedFromCopy = false;
}
