namespace NsqSharp.Common.Net;

/// <summary>
/// A cap on open connections (0 = none), counted without locks; the accept loop asks TryEnter for each
/// accepted socket and the connection calls Exit when it closes. Shared by nsqd and nsqlookupd.
/// </summary>
public sealed class ConnectionLimit(int max)
{
    private int _count;

    public int Max { get; } = max;

    public int Count => Volatile.Read(ref _count);

    public bool TryEnter()
    {
        var count = Interlocked.Increment(ref _count);
        if (Max > 0 && count > Max)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        return true;
    }

    public void Exit() => Interlocked.Decrement(ref _count);
}
