using Microsoft.Extensions.Logging;

namespace NsqSharp.Tools;

/// <summary>Minimal logger for the tools: one line per event on stderr (like go-nsq's default logger).</summary>
internal sealed class StderrLogger(LogLevel minimum) : ILogger
{
    private static readonly object Gate = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var level = logLevel switch
        {
            LogLevel.Trace or LogLevel.Debug => "DBG",
            LogLevel.Information => "INF",
            LogLevel.Warning => "WRN",
            _ => "ERR",
        };
        var line = $"{DateTime.Now:yyyy/MM/dd HH:mm:ss} {level} {formatter(state, exception)}";
        if (exception != null)
        {
            line += " - " + exception.Message;
        }

        lock (Gate)
        {
            Console.Error.WriteLine(line);
        }
    }
}
