using System.Runtime.InteropServices;

namespace NsqSharp.Bench.Compare;

/// <summary>SIGTERM for a graceful broker stop (Process.Kill only sends SIGKILL).</summary>
internal static partial class PosixSignal
{
    private const int SigTerm = 15;

    public static bool Terminate(int pid) => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? Kill(pid, SigTerm) == 0 : false;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
