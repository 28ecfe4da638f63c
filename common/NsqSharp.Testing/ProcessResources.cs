using System.Globalization;

namespace NsqSharp.Testing;

/// <summary>
/// What a process holds right now, read from /proc (Linux): resident memory, open file descriptors, CPU time
/// and listening sockets. Tests use it to prove a resource stays bounded, never to time an operation.
/// </summary>
public static class ProcessResources
{
    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    /// <summary>Open file descriptors (entries of /proc/pid/fd).</summary>
    public static int OpenFileDescriptors(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>User + system CPU time consumed so far.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        // /proc/pid/stat: the command name (field 2) may contain spaces, so split after its closing ')'.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
    }

    /// <summary>
    /// Whether the process itself holds a socket listening on the TCP port: a LISTEN entry of /proc/PID/net/tcp{,6}
    /// (the tables of the process's own network namespace, the same as /proc/net's for a process in ours) whose
    /// inode is one of the process's descriptors. Another process answering on the port does not count.
    /// </summary>
    public static bool ListensOn(int pid, int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        var hexPort = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (var table in (ReadOnlySpan<string>)[$"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6"])
        {
            try
            {
                // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 9 && fields[3] == "0A" && fields[1].EndsWith(hexPort, StringComparison.Ordinal))
                    {
                        inodes.Add($"socket:[{fields[9]}]");
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // no IPv6, or the process is gone
            }
        }

        if (inodes.Count == 0)
        {
            return false;
        }

        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                    {
                        return true;
                    }
                }
                catch (IOException)
                {
                    // closed while we looked
                }
            }
        }
        catch (Exception e) when (e is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            // the process is gone
        }

        return false;
    }

    /// <summary>USER_HZ; 100 on every Linux configuration .NET supports.</summary>
    private const int ClockTicksPerSecond = 100;
}
