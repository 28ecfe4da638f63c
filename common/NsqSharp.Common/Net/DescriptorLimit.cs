using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NsqSharp.Common.Net;

/// <summary>
/// The process's open-file limit (RLIMIT_NOFILE) and the descriptors servers keep free below it.
/// Unlike a Go program, the .NET runtime needs descriptors of its own at any moment: a pipe for every
/// thread-pool thread it starts, a file for every assembly it loads. When a flood of connections takes
/// the last descriptor, the next thread cannot start and the runtime ends the process ("Out of memory.").
/// So a server sheds a new connection while fewer than <see cref="Reserve"/> descriptors are left.
/// <para>
/// The check costs nothing: POSIX hands out the lowest free descriptor number, so an accepted socket's
/// number is a lower bound of the descriptors in use; at or above <see cref="Threshold"/> fewer than
/// Reserve are free. Counts every descriptor (log segments, HTTP, threads), not only our sockets.
/// Not applied on Windows, which has no such limit.
/// </para>
/// </summary>
public static partial class DescriptorLimit
{
    private const int RlimitNofileLinux = 7;
    private const int RlimitNofileMac = 8;

    private static readonly Lazy<long> Limit = new(ReadSoftLimit);

    /// <summary>The soft RLIMIT_NOFILE (the runtime raises it to the hard limit at start); long.MaxValue when unknown or unlimited.</summary>
    public static long SoftLimit => Limit.Value;

    /// <summary>Descriptors kept free: an eighth of the limit, at least 128 and at most 1024.</summary>
    public static long Reserve => SoftLimit == long.MaxValue ? 0 : Math.Clamp(SoftLimit / 8, 128, 1024);

    /// <summary>An accepted descriptor numbered at or above this means fewer than Reserve are left.</summary>
    public static long Threshold => SoftLimit == long.MaxValue ? long.MaxValue : SoftLimit - Reserve;

    /// <summary>True when the socket took one of the reserved descriptors; number is its descriptor (-1 when unknown).</summary>
    public static bool IsInReserve(Socket socket, out long number)
    {
        number = -1;
        if (OperatingSystem.IsWindows() || SoftLimit == long.MaxValue)
        {
            return false;
        }

        try
        {
            number = (long)socket.SafeHandle.DangerousGetHandle();
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        return number >= Threshold;
    }

    private static long ReadSoftLimit()
    {
        int resource;
        if (OperatingSystem.IsLinux())
        {
            resource = RlimitNofileLinux;
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            resource = RlimitNofileMac;
        }
        else
        {
            return long.MaxValue;
        }

        try
        {
            if (GetRLimit(resource, out var limit) != 0 || limit.Current == 0 || limit.Current >= long.MaxValue)
            {
                return long.MaxValue;
            }

            return (long)limit.Current;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return long.MaxValue;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);
}
