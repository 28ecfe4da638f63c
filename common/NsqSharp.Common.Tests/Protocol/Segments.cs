using System.Buffers;

namespace NsqSharp.Common.Tests.Protocol;

/// <summary>Bytes as a multi-segment sequence, as a PipeReader hands out data that arrived in pieces.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var start = new Segment(bytes.AsMemory(0, cuts[0]));
        var last = start;
        var previous = cuts[0];
        foreach (var cut in cuts.Skip(1).Append(bytes.Length))
        {
            last = last.Append(bytes.AsMemory(previous, cut - previous));
            previous = cut;
        }

        return new ReadOnlySequence<byte>(start, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
