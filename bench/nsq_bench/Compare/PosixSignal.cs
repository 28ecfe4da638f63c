using System.Runtime.InteropServices;

namespace NsqSharp.Bench.Compare;

/// <summary>SIGTERM for a graceful broker stop (Process.Kill only sends SIGKILL), and SIGKILL by pid for the failover mode.</summary>
internal static partial class PosixSignal
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    public static bool Terminate(int pid) => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? Kill(pid, SigTerm) == 0 : false;

    /// <summary>kill(pid, SIGKILL): any process of ours, child or not (Process.GetProcessById().Kill() would do it too, with more ceremony).</summary>
    public static bool Kill9(int pid) => (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && Kill(pid, SigKill) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
