namespace NsqSharp.Client.Consuming;

/// <summary>The connection a message arrived on, which carries its FIN/REQ/TOUCH back to nsqd.</summary>
internal interface IMessageResponder
{
    string Address { get; }

    void Finish(Message message);

    void Requeue(Message message, TimeSpan? delay, bool backoff);

    void Touch(Message message);
}
