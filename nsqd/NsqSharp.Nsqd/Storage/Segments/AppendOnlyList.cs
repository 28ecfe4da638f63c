using System.Runtime.InteropServices;

namespace NsqSharp.Nsqd.Storage;

/// <summary>Sparse offset index entry: the batch starting at <see cref="Position"/> has base offset segmentBase + <see cref="RelOffset"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct OffsetIndexEntry
{
    public int RelOffset;
    public int Position;
}

/// <summary>Sparse time index entry: every record with offset &lt; segmentBase + <see cref="RelOffset"/> has timestamp &lt;= <see cref="MaxTimestampNs"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeIndexEntry
{
    public long MaxTimestampNs;
    public int RelOffset;
}

/// <summary>
/// Append-only array with one writer and lock-free readers: the writer stores an item, then publishes the count;
/// readers read the count, then the array (a grown array always contains every published item). Never shrinks:
/// a truncated segment gets a new list (<see cref="LogSegment.TruncatedCopy"/>), so a reader's snapshot stays valid.
/// </summary>
internal sealed class AppendOnlyList<T>
    where T : struct
{
    private T[] _items;
    private int _count;

    public AppendOnlyList(int capacity = 16) => _items = new T[Math.Max(4, capacity)];

    public int Count => Volatile.Read(ref _count);

    /// <summary>A new list holding a copy of <paramref name="items"/>.</summary>
    public static AppendOnlyList<T> From(ReadOnlySpan<T> items)
    {
        var list = new AppendOnlyList<T>(items.Length + 16);
        items.CopyTo(list._items);
        list._count = items.Length;
        return list;
    }

    public void Add(in T item)
    {
        int count = _count;
        T[] items = _items;
        if (count == items.Length)
        {
            var grown = new T[items.Length * 2];
            Array.Copy(items, grown, count);
            Volatile.Write(ref _items, grown);
            items = grown;
        }

        items[count] = item;
        Volatile.Write(ref _count, count + 1);
    }

    public ReadOnlySpan<T> Snapshot()
    {
        (T[] items, int count) = SnapshotArray();
        return new ReadOnlySpan<T>(items, 0, count);
    }

    /// <summary>The published items as (array, count), for holders that cannot keep a span.</summary>
    public (T[] Items, int Count) SnapshotArray()
    {
        int count = Volatile.Read(ref _count);
        T[] items = Volatile.Read(ref _items);
        return (items, Math.Min(count, items.Length));
    }
}
