using BenchmarkDotNet.Attributes;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Micro;

/// <summary>The 16-byte message id: parsed from every FIN/REQ/TOUCH, formatted into every message frame.</summary>
[MemoryDiagnoser]
public class ProtocolMessageIdBenchmarks
{
    private readonly byte[] _finId = "00000000000f4240"u8.ToArray();
    private readonly byte[] _buffer = new byte[MessageId.Length];

    [Benchmark]
    public long ParseFinId() => MessageId.TryParse(_finId, out var id) ? id.Offset : -1;

    [Benchmark]
    public byte FormatId()
    {
        new MessageId(0, 1_000_000).WriteTo(_buffer);
        return _buffer[15];
    }
}
