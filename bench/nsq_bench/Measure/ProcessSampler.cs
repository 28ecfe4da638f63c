using System.Diagnostics;
using System.Globalization;

namespace NsqSharp.Bench.Measure;

/// <summary>
/// Samples a process's CPU (utime+stime from /proc/&lt;pid&gt;/stat) and RSS (/proc/&lt;pid&gt;/statm).
/// CPU is reported as percent of one core over the interval since the previous sample, like top.
/// </summary>
internal sealed class ProcessSampler(int pid)
{
    // /proc reports CPU times in USER_HZ, which Linux fixes at 100 for user space.
    private const double TicksPerSecond = 100.0;

    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(200);

    private long _lastCpuTicks = -1;
    private long _lastTimestamp;
    private double _lastCpuPercent;

    public int Pid => pid;

    /// <summary>Resident set size in bytes (/proc/&lt;pid&gt;/statm, pages).</summary>
    public static long RssBytes(int processId) =>
        long.Parse(File.ReadAllText($"/proc/{processId}/statm").Split(' ')[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;

    /// <summary>Null once the process is gone.</summary>
    public (double CpuPercent, double RssMib)? Sample()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var cpuTicks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var rssMib = RssBytes(pid) / (1024.0 * 1024);

            var now = Stopwatch.GetTimestamp();
            if (_lastCpuTicks >= 0 && Stopwatch.GetElapsedTime(_lastTimestamp, now) < MinInterval)
            {
                return (_lastCpuPercent, rssMib); // too short for 10 ms ticks: keep the last rate
            }

            double cpu = 0;
            if (_lastCpuTicks >= 0)
            {
                var seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
                cpu = (cpuTicks - _lastCpuTicks) / TicksPerSecond / seconds * 100;
            }

            _lastCpuTicks = cpuTicks;
            _lastTimestamp = now;
            _lastCpuPercent = cpu;
            return (cpu, rssMib);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
