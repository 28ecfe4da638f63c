using System.Buffers.Binary;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Load;

/// <summary>
/// End-to-end latency of one consuming connection: every body carries [run id][batch][due timestamp]
/// (see <see cref="PacedPublisher"/>); receive time minus due time goes into this sink's own histogram.
/// Bodies from other runs (an old backlog) are counted and ignored.
/// </summary>
internal sealed class LatencySink(long runId, LatencySchedule schedule) : IMessageSink
{
    public const int StampLength = 24;

    private long _matched;
    private long _foreign;

    public LogLinearHistogram Histogram { get; } = new();

    public long Matched => Volatile.Read(ref _matched);

    public long Foreign => Volatile.Read(ref _foreign);

    public static void Stamp(Span<byte> body, long runId, long batch, long dueTimestamp)
    {
        BinaryPrimitives.WriteInt64LittleEndian(body, runId);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], batch);
        BinaryPrimitives.WriteInt64LittleEndian(body[16..], dueTimestamp);
    }

    public void OnMessage(ReadOnlySpan<byte> body, long receivedTimestamp)
    {
        if (body.Length < StampLength || BinaryPrimitives.ReadInt64LittleEndian(body) != runId)
        {
            Volatile.Write(ref _foreign, _foreign + 1);
            return;
        }

        Volatile.Write(ref _matched, _matched + 1);
        var due = BinaryPrimitives.ReadInt64LittleEndian(body[16..]);
        if (due >= schedule.WarmupEnd)
        {
            Histogram.Record(LatencySchedule.ToNanoseconds(receivedTimestamp - due));
        }
    }
}
