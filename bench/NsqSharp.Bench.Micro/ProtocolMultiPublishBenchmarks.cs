using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
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
        const int size = 200;
        _body = new byte[4 + (Messages * (4 + size))];
        BinaryPrimitives.WriteInt32BigEndian(_body, Messages);
        var at = 4;
        for (var i = 0; i < Messages; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(_body.AsSpan(at), size);
            at += 4 + size;
        }
    }

    [Benchmark]
    public int Parse()
    {
        var error = MultiPublishParser.Parse(_body, MaxMsgSize, MaxBodySize, out var messages);
        return error is null ? messages.Count : -1;
    }
}
