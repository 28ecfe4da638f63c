using System.Buffers;
using BenchmarkDotNet.Attributes;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Benchmarks;

/// <summary>Encode and decode costs of the hot wire paths: PUB/MPUB/FIN/RDY out, message frames in.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _writer = new(1 << 20);
    private ReadOnlyMemory<byte>[] _batch = [];
    private byte[] _body = [];
    private byte[] _frames = [];
    private NsqMessageId _id;

    [Params(100, 1024)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _body = new byte[BodySize];
        Random.Shared.NextBytes(_body);
        _batch = Enumerable.Range(0, 10).Select(_ => (ReadOnlyMemory<byte>)_body).ToArray();
        _id = NsqMessageId.FromBytes("0123456789abcdef"u8);

        // 16 message frames back to back, as a read from nsqd would deliver them
        var frame = new byte[MessageFrame.FrameLength(BodySize)];
        MessageFrame.Write(frame, 1_700_000_000_000_000_000, 1, "0123456789abcdef"u8, new byte[BodySize]);
        _frames = Enumerable.Repeat(frame, 16).SelectMany(f => f).ToArray();
    }

    [Benchmark(Description = "encode PUB")]
    public int EncodePub()
    {
        _writer.ResetWrittenCount();
        CommandWriter.WritePub(_writer, "benchmark-topic", _body);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "encode MPUB x10")]
    public int EncodeMpub()
    {
        _writer.ResetWrittenCount();
        CommandWriter.WriteMpub(_writer, "benchmark-topic", _batch);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "encode FIN + RDY")]
    public int EncodeFinRdy()
    {
        _writer.ResetWrittenCount();
        CommandWriter.WriteFin(_writer, NsqMessageId.AsBytes(in _id));
        CommandWriter.WriteRdy(_writer, 2500);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "decode 16 message frames", OperationsPerInvoke = 16)]
    public long DecodeMessages()
    {
        var buffer = new ReadOnlySequence<byte>(_frames);
        long total = 0;
        while (FrameReader.TryRead(ref buffer, 1 << 20, out _, out var data))
        {
            total += MessageDecoder.Decode(data).Body.Length;
        }

        return total;
    }
}
