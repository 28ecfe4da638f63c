using System.Globalization;

namespace NsqSharp.Testing;

/// <summary>
/// What a process holds right now, read from /proc (Linux): resident memory, open file descriptors and
/// CPU time. Tests use it to prove a resource stays bounded, never to time an operation.
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

    /// <summary>USER_HZ; 100 on every Linux configuration .NET supports.</summary>
    private const int ClockTicksPerSecond = 100;
}
