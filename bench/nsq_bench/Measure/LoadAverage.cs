namespace NsqSharp.Bench.Measure;

/// <summary>The 1/5/15-minute load average, recorded with every result: on a shared box it says how noisy the figure is.</summary>
internal static class LoadAverage
{
    public static string Read()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{fields[0]} {fields[1]} {fields[2]}";
        }
        catch (IOException)
        {
            return "";
        }
    }
}
