namespace NsqSharp.Bench.Load;

/// <summary>Sees every delivered body (latency mode reads its send stamp); must not keep the span.</summary>
internal interface IMessageSink
{
    void OnMessage(ReadOnlySpan<byte> body, long receivedTimestamp);
}
