using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Per-command protocol work on the broker's hot paths: parsing an MPUB body (bench_writer's 200
/// messages of 200 bytes), parsing the 16-byte id of a FIN, and formatting an id into a message frame.
/// </summary>
[MemoryDiagnoser]
public class ProtocolFrameParseBenchmarks
{
    private const long MaxMsgSize = 1024 * 1024;
    private const long MaxBodySize = 5 * 1024 * 1024;

    private byte[] _mpubBody = [];
    private readonly byte[] _finId = "00000000000f4240"u8.ToArray();
    private readonly byte[] _idBuffer = new byte[MessageId.Length];

    [Params(1, 200)]
    public int Messages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const int size = 200;
        _mpubBody = new byte[4 + (Messages * (4 + size))];
        BinaryPrimitives.WriteInt32BigEndian(_mpubBody, Messages);
        var at = 4;
        for (var i = 0; i < Messages; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(_mpubBody.AsSpan(at), size);
            at += 4 + size;
        }
    }

    /// <summary>MPUB body validation and slicing (allocates the message list, as the broker does).</summary>
    [Benchmark]
    public int MultiPublishParse()
    {
        var error = MultiPublishParser.Parse(_mpubBody, MaxMsgSize, MaxBodySize, out var messages);
        return error is null ? messages.Count : -1;
    }

    /// <summary>FIN's id: 16 hex bytes back to (partition, offset).</summary>
    [Benchmark]
    public long FinIdParse() => MessageId.TryParse(_finId, out var id) ? id.Offset : -1;

    /// <summary>Formatting the id written into every message frame.</summary>
    [Benchmark]
    public byte MessageIdFormat()
    {
        new MessageId(0, 1_000_000).WriteTo(_idBuffer);
        return _idBuffer[15];
    }
}
