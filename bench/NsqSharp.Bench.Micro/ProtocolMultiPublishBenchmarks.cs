using System.Buffers;
using BenchmarkDotNet.Attributes;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Parsing an MPUB body as the broker does for every publish command: validation of every size and
/// slicing into messages (bench_writer sends 200 messages of 200 bytes per MPUB).
/// </summary>
[MemoryDiagnoser]
public class ProtocolMultiPublishBenchmarks
{
    private const long MaxMsgSize = 1024 * 1024;
    private const long MaxBodySize = 5 * 1024 * 1024;

    private byte[] _body = [];

    [Params(1, 200)]
    public int Messages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = new ArrayBufferWriter<byte>();
        MultiPublishBody.Write(body, Enumerable.Repeat((ReadOnlyMemory<byte>)new byte[200], Messages).ToArray());
        _body = body.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int Parse()
    {
        var error = MultiPublishParser.Parse(_body, MaxMsgSize, MaxBodySize, out var messages);
        return error is null ? messages.Count : -1;
    }
}
