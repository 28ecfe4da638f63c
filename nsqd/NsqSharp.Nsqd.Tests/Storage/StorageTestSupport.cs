using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Storage;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Collects log entries so tests can assert that recovery warned or errored.</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));

    public bool Has(LogLevel level, string contains)
    {
        foreach (var (l, m) in Entries)
        {
            if (l == level && m.Contains(contains, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

internal static class StorageTestSupport
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);

    public static byte[] Body(int n, int size = 32)
    {
        var body = new byte[size];
        for (int i = 0; i < size; i++)
        {
            body[i] = (byte)(n * 31 + i);
        }

        BitConverter.TryWriteBytes(body.AsSpan(0, Math.Min(4, size)), n);
        return body;
    }

    public static int BodyId(ReadOnlyMemory<byte> body) => BitConverter.ToInt32(body.Span[..4]);

    /// <summary>Reads every durable record from <paramref name="from"/> (calls Read until it returns 0).</summary>
    public static List<LogRecord> ReadAll(PartitionLog log, long from = 0, int maxMessages = 1000, int maxBytes = 1 << 20)
    {
        var all = new List<LogRecord>();
        var chunk = new List<LogRecord>();
        long next = from;
        for (int guard = 0; guard < 1_000_000; guard++)
        {
            chunk.Clear();
            int n = log.Read(next, maxMessages, maxBytes, LogBound.HighWatermark, chunk);
            if (n == 0)
            {
                break;
            }

            Assert.Equal(n, chunk.Count);
            all.AddRange(chunk);
            next = chunk[^1].Offset + 1;
        }

        return all;
    }

    public static string SegmentPath(string dir, long baseOffset, string ext = ".log") =>
        Path.Combine(dir, baseOffset.ToString("D20", System.Globalization.CultureInfo.InvariantCulture) + ext);

    public static long[] SegmentBases(string dir)
    {
        var files = Directory.GetFiles(dir, "*.log");
        var bases = new long[files.Length];
        for (int i = 0; i < files.Length; i++)
        {
            bases[i] = long.Parse(Path.GetFileNameWithoutExtension(files[i]), System.Globalization.CultureInfo.InvariantCulture);
        }

        Array.Sort(bases);
        return bases;
    }

    public static async Task<T> WithTimeout<T>(this ValueTask<T> task) => await task.AsTask().WaitAsync(TestTimeout);

    public static async Task<T> WithTimeout<T>(this Task<T> task) => await task.WaitAsync(TestTimeout);

    public static async Task WithTimeout(this Task task) => await task.WaitAsync(TestTimeout);
}
