using BenchmarkDotNet.Attributes;
using NsqSharp.Common;

namespace NsqSharp.Bench.Micro;

/// <summary>CRC-32C over typical batch sizes (one 200-byte message batch, an MPUB of 200, a large batch).</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(272, 44_848, 1_048_576)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(1).NextBytes(_data);
    }

    [Benchmark]
    public uint Compute() => Crc32C.Compute(_data);
}
