using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Net;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>
/// A logger that writes each warning or error message (by its template) at most once per interval, saying how many
/// like it were left out. While etcd is away the cluster code retries every few hundred milliseconds and would
/// otherwise log every attempt. Lower levels pass unchanged.
/// </summary>
internal sealed class RateLimitedLogger(ILogger inner, TimeSpan interval, TimeProvider? time = null) : ILogger
{
    private const string OriginalFormat = "{OriginalFormat}";
    private readonly ConcurrentDictionary<string, LogRateLimiter> _limiters = new(StringComparer.Ordinal);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel < LogLevel.Warning || !inner.IsEnabled(logLevel))
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }

        // By template, so the set stays as small as the code's log statements (messages without one share a limiter).
        var limiter = _limiters.GetOrAdd(Template(state) ?? "", _ => new LogRateLimiter(interval, time));
        if (!limiter.ShouldLog(out var suppressed))
        {
            return;
        }

        if (suppressed == 0)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }

        inner.Log(logLevel, eventId, state, exception,
            (s, e) => formatter(s, e) + $" ({suppressed} more like it in the last {interval.TotalSeconds:0.#}s)");
    }

    private static string? Template<TState>(TState state)
    {
        if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            foreach (var (key, value) in values)
            {
                if (key == OriginalFormat)
                {
                    return value as string;
                }
            }
        }

        return null;
    }
}
