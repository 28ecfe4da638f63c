namespace NsqSharp.Client;

/// <summary>A snapshot of a consumer's counters (go-nsq's <c>ConsumerStats</c>).</summary>
/// <param name="MessagesReceived">Messages delivered by nsqd.</param>
/// <param name="MessagesFinished">Messages answered with FIN.</param>
/// <param name="MessagesRequeued">Messages answered with REQ.</param>
/// <param name="Connections">Open nsqd connections.</param>
public sealed record ConsumerStats(long MessagesReceived, long MessagesFinished, long MessagesRequeued, int Connections);
