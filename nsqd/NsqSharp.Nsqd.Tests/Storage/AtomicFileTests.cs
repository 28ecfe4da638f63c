using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Storage;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-atomic");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void WritesAndReplaces_LeavingNoTempFiles()
    {
        string path = Path.Combine(_temp.Path, "meta.json");
        AtomicFile.WriteAllBytes(path, "first"u8);
        Assert.Equal("first"u8.ToArray(), File.ReadAllBytes(path));
        AtomicFile.WriteAllBytes(path, "second, longer"u8);
        Assert.Equal("second, longer"u8.ToArray(), File.ReadAllBytes(path));
        AtomicFile.WriteAllBytes(path, ReadOnlySpan<byte>.Empty);
        Assert.Empty(File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void ConcurrentWriters_EachLeaveAWholeFile()
    {
        string path = Path.Combine(_temp.Path, "checkpoint");
        var payloads = Enumerable.Range(0, 8).Select(i => Enumerable.Repeat((byte)i, 1000 + i).ToArray()).ToArray();
        Parallel.For(0, 64, i => AtomicFile.WriteAllBytes(path, payloads[i % payloads.Length]));
        byte[] final = File.ReadAllBytes(path);
        Assert.Contains(payloads, p => p.AsSpan().SequenceEqual(final));
        Assert.Single(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void MissingDirectory_Throws() =>
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllBytes(Path.Combine(_temp.Path, "nope", "file"), "x"u8));
}
