using BenchmarkDotNet.Attributes;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Appending frames to a client's output buffer, as the message pump (message frames) and the reply loop
/// (OK responses) do for every message and acknowledgement. No sender runs: the buffer is released after
/// each batch, so a batch costs one pooled rent and return besides the frames.
/// </summary>
[MemoryDiagnoser]
public class ProtocolClientOutputBenchmarks
{
    private const int Frames = 64;

    private ClientOutput _output = null!;
    private Delivery _delivery;

    [Params(100, 1024)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // A window nothing reaches: appends never ask for a send.
        _output = new ClientOutput(Stream.Null, 1 << 20) { BufferSize = int.MaxValue, TimeoutMs = 1_000_000 };
        _delivery = new Delivery(1, 1_000_000, 1_700_000_000_000_000_000, new byte[BodySize], 0);
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void WriteMessageFrames()
    {
        for (var i = 0; i < Frames; i++)
        {
            _output.WriteMessage(_delivery, 1, flush: false);
        }

        _output.ReleaseBuffers();
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void WriteResponseFrames()
    {
        for (var i = 0; i < Frames; i++)
        {
            _output.WriteFrame(FrameType.Response, ProtocolConstants.Ok, flush: false, signalSender: false);
        }

        _output.ReleaseBuffers();
    }
}
