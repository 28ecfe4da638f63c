using Microsoft.Extensions.Logging;

namespace NsqSharp.Client;

/// <summary>All log events of the library (source-generated: no boxing or formatting when disabled).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Error, "connection to nsqd {Address}: a loop failed")]
    public static partial void LoopFaulted(ILogger logger, string address, Exception error);

    [LoggerMessage(2, LogLevel.Warning, "nsqd {Address} answered with error {Error}")]
    public static partial void PublishError(ILogger logger, string address, string error);

    [LoggerMessage(3, LogLevel.Warning, "connection to nsqd {Address} lost")]
    public static partial void ConnectionLost(ILogger logger, string address, Exception reason);

    [LoggerMessage(4, LogLevel.Information, "connected to nsqd {Address} (version {Version}, max_rdy_count {MaxRdyCount})")]
    public static partial void Connected(ILogger logger, string address, string? version, long maxRdyCount);

    [LoggerMessage(5, LogLevel.Warning, "nsqd {Address} max RDY count {MaxRdyCount} < consumer max in flight {MaxInFlight}, truncation possible")]
    public static partial void MaxRdyBelowMaxInFlight(ILogger logger, string address, long maxRdyCount, int maxInFlight);

    [LoggerMessage(6, LogLevel.Error, "nsqd {Address} sent error {Error}")]
    public static partial void ServerError(ILogger logger, string address, string error);

    [LoggerMessage(7, LogLevel.Warning, "backing off for {Duration} (backoff level {Level}), setting all to RDY 0")]
    public static partial void BackingOff(ILogger logger, TimeSpan duration, int level);

    [LoggerMessage(8, LogLevel.Warning, "exiting backoff, returning all to RDY {Count}")]
    public static partial void ExitingBackoff(ILogger logger, long count);

    [LoggerMessage(9, LogLevel.Information, "backoff timeout expired, sending RDY 1 to {Address}")]
    public static partial void BackoffResume(ILogger logger, string address);

    [LoggerMessage(10, LogLevel.Warning, "message {MessageId} attempted {Attempts} times, giving up")]
    public static partial void MaxAttemptsExceeded(ILogger logger, NsqMessageId messageId, int attempts);

    [LoggerMessage(11, LogLevel.Error, "handler failed for message {MessageId}")]
    public static partial void HandlerFailed(ILogger logger, NsqMessageId messageId, Exception error);

    [LoggerMessage(12, LogLevel.Error, "failed-message hook threw for message {MessageId}")]
    public static partial void FailedHookThrew(ILogger logger, NsqMessageId messageId, Exception error);

    [LoggerMessage(13, LogLevel.Error, "connecting to nsqd {Address} failed")]
    public static partial void ConnectFailed(ILogger logger, string address, Exception error);

    [LoggerMessage(14, LogLevel.Error, "querying nsqlookupd {Endpoint} failed")]
    public static partial void LookupdQueryFailed(ILogger logger, string endpoint, Exception error);

    [LoggerMessage(15, LogLevel.Information, "nsqlookupd {Endpoint} knows no producer of the topic yet")]
    public static partial void LookupdTopicNotFound(ILogger logger, string endpoint);

    [LoggerMessage(16, LogLevel.Information, "received CLOSE_WAIT from nsqd {Address}")]
    public static partial void CloseWait(ILogger logger, string address);

    [LoggerMessage(17, LogLevel.Debug, "sending RDY {Count} to {Address}")]
    public static partial void SendingRdy(ILogger logger, long count, string address);

    [LoggerMessage(18, LogLevel.Warning, "stop timed out; closing {Count} connection(s) with messages in flight")]
    public static partial void StopTimedOut(ILogger logger, int count);

    [LoggerMessage(19, LogLevel.Information, "reconnecting to nsqd {Address} in {Delay}")]
    public static partial void Reconnecting(ILogger logger, string address, TimeSpan delay);

    [LoggerMessage(20, LogLevel.Information, "publish to topic {Topic} on nsqd {Address} not taken; asking nsqlookupd again")]
    public static partial void PublishRerouted(ILogger logger, string topic, string address, Exception error);
}
