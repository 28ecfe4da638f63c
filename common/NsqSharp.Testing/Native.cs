using System.Runtime.InteropServices;

namespace NsqSharp.Testing;

/// <summary>POSIX signals for fault injection (SIGKILL, SIGSTOP/SIGCONT) and graceful stops.</summary>
public static partial class Native
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGCONT = 18;
    public const int SIGSTOP = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
