using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace NsqSharp.Hosting;

internal sealed class NsqConsoleFormatterOptions : ConsoleFormatterOptions
{
    public string Prefix { get; set; } = "";
}

/// <summary>
/// Upstream's log line: "[nsqd] 2025/01/27 10:11:12.123456 INFO: message", so operators'
/// greps and log shippers keep working.
/// </summary>
internal sealed class NsqConsoleFormatter(Microsoft.Extensions.Options.IOptionsMonitor<NsqConsoleFormatterOptions> options)
    : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "nsq";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message == null && logEntry.Exception == null)
        {
            return;
        }

        textWriter.Write(options.CurrentValue.Prefix);
        textWriter.Write(DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss.ffffff", System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(' ');
        textWriter.Write(logEntry.LogLevel switch
        {
            LogLevel.Trace or LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARNING",
            LogLevel.Error => "ERROR",
            _ => "FATAL",
        });
        textWriter.Write(": ");
        textWriter.Write(message);
        if (logEntry.Exception != null)
        {
            textWriter.Write(" - ");
            textWriter.Write(logEntry.Exception.ToString());
        }

        textWriter.WriteLine();
    }
}
