namespace NsqSharp.Common;

/// <summary>
/// Copy-on-write arrays for small lists that are read far more often than changed (a channel's clients, a log's
/// listeners): readers take the array with a volatile read and never lock; writers build a new array under their
/// own lock and publish it.
/// </summary>
public static class CopyOnWriteArray
{
    /// <summary>A new array: <paramref name="items"/> followed by <paramref name="item"/>.</summary>
    public static T[] Append<T>(T[] items, T item)
    {
        ArgumentNullException.ThrowIfNull(items);
        var grown = new T[items.Length + 1];
        Array.Copy(items, grown, items.Length);
        grown[^1] = item;
        return grown;
    }

    /// <summary>A new array without the first occurrence of <paramref name="item"/>; <paramref name="items"/> itself when absent.</summary>
    public static T[] Remove<T>(T[] items, T item)
    {
        ArgumentNullException.ThrowIfNull(items);
        var index = Array.IndexOf(items, item);
        if (index < 0)
        {
            return items;
        }

        var shrunk = new T[items.Length - 1];
        Array.Copy(items, 0, shrunk, 0, index);
        Array.Copy(items, index + 1, shrunk, index, items.Length - index - 1);
        return shrunk;
    }
}
