namespace NsqSharp.Client;

/// <summary>
/// Processes messages for a <see cref="Consumer"/>. Completing normally finishes the message (FIN); throwing
/// requeues it with backoff (REQ, delay = <c>default_requeue_delay × attempts</c>), unless the handler called
/// <see cref="Message.DisableAutoResponse"/> or responded itself.
/// </summary>
public interface IMessageHandler
{
    /// <summary>Handles one message. <paramref name="cancellationToken"/> fires when the consumer is stopped
    /// without enough time to drain.</summary>
    Task HandleMessageAsync(Message message, CancellationToken cancellationToken);
}

/// <summary>
/// Optionally implemented by an <see cref="IMessageHandler"/>: called instead of the handler for a message
/// delivered more than <c>max_attempts</c> times (go-nsq's <c>FailedMessageLogger</c>). The message is then
/// finished, so it leaves the channel; forward it to a dead-letter topic here if you need to keep it.
/// </summary>
public interface IFailedMessageHandler
{
    /// <summary>Called for a message whose attempts exceeded <c>max_attempts</c>.</summary>
    Task OnMessageFailedAsync(Message message, CancellationToken cancellationToken);
}

/// <summary>Adapts a delegate to <see cref="IMessageHandler"/>.</summary>
internal sealed class DelegateMessageHandler(Func<Message, CancellationToken, Task> handle) : IMessageHandler
{
    public Task HandleMessageAsync(Message message, CancellationToken cancellationToken) => handle(message, cancellationToken);
}
