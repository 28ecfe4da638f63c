using System.Diagnostics;
using System.Globalization;

namespace NsqSharp.Bench.Measure;

/// <summary>
/// Machine-wide busy CPU from /proc/stat, in percent of one core. Minus the broker's and the tool's
/// own share this is the load from everything else (other builds, other benchmarks): the noise on a figure.
/// </summary>
internal sealed class SystemCpuSampler
{
    private const double TicksPerSecond = 100.0; // USER_HZ

    private long _lastBusy = -1;
    private long _lastTimestamp;
    private double? _lastPercent;

    public double? Sample()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var fields = (reader.ReadLine() ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
            long busy = 0;
            for (var i = 1; i < fields.Length && i <= 8; i++)
            {
                if (i is 4 or 5)
                {
                    continue;
                }

                busy += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }

            var now = Stopwatch.GetTimestamp();
            if (_lastBusy >= 0 && Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalMilliseconds < 200)
            {
                return _lastPercent; // too short for 10 ms ticks: keep the last rate
            }

            double? percent = null;
            if (_lastBusy >= 0)
            {
                var seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
                percent = (busy - _lastBusy) / TicksPerSecond / seconds * 100;
            }

            _lastBusy = busy;
            _lastTimestamp = now;
            _lastPercent = percent;
            return percent;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
