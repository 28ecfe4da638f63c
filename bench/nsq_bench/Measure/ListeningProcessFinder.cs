using System.Globalization;

namespace NsqSharp.Bench.Measure;

/// <summary>
/// Finds the process listening on a local TCP port: the LISTEN row of /proc/net/tcp{,6} gives the
/// socket inode, and the process whose /proc/&lt;pid&gt;/fd links to "socket:[inode]" owns it.
/// Linux only; null when not found (e.g. no permission to read another user's fds).
/// </summary>
internal static class ListeningProcessFinder
{
    private const string ListenState = "0A";

    public static int? FindPid(int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            CollectListeningInodes(table, port, inodes);
        }

        if (inodes.Count == 0)
        {
            return null;
        }

        foreach (var dir in SafeEnumerate("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            foreach (var fd in SafeEnumerate(Path.Combine(dir, "fd")))
            {
                var target = SafeLinkTarget(fd);
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1]))
                {
                    return pid;
                }
            }
        }

        return null;
    }

    private static void CollectListeningInodes(string table, int port, HashSet<string> inodes)
    {
        if (!File.Exists(table))
        {
            return;
        }

        foreach (var line in File.ReadLines(table).Skip(1))
        {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10 || fields[3] != ListenState)
            {
                continue;
            }

            var colon = fields[1].LastIndexOf(':');
            if (colon > 0 && int.TryParse(fields[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var p) && p == port)
            {
                inodes.Add(fields[9]);
            }
        }
    }

    private static IEnumerable<string> SafeEnumerate(string dir)
    {
        try
        {
            return Directory.GetFileSystemEntries(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string? SafeLinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
