using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Lookupd.Cluster;
using Xunit;

namespace NsqSharp.Lookupd.Tests.Cluster;

public sealed class RateLimitedLoggerTests
{
    [Fact]
    public void AWarningRepeatsOncePerIntervalWithACount_OtherTemplatesAndInfoPass()
    {
        var time = new FakeTimeProvider();
        var lines = new List<string>();
        var logger = new RateLimitedLogger(new ListLogger(lines), TimeSpan.FromSeconds(10), time);

        for (int i = 0; i < 5; i++)
        {
            logger.LogWarning("etcd unreachable ({Reason})", "attempt " + i);
            logger.LogInformation("info {N}", i);
        }

        logger.LogWarning("another warning");
        time.Advance(TimeSpan.FromSeconds(10));
        logger.LogWarning("etcd unreachable ({Reason})", "attempt 5");

        Assert.Equal(
        [
            "Warning etcd unreachable (attempt 0)", "Information info 0", "Information info 1", "Information info 2", "Information info 3",
            "Information info 4", "Warning another warning", "Warning etcd unreachable (attempt 5) (4 more like it in the last 10s)",
        ], lines);
    }

    private sealed class ListLogger(List<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Add(logLevel + " " + formatter(state, exception));
    }
}
