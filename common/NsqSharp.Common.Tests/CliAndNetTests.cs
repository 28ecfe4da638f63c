using NsqSharp.Common.Cli;
using NsqSharp.Common.Net;
using Xunit;

namespace NsqSharp.Common.Tests;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("300s", 300_000)]
    [InlineData("5m0s", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0", 0)]
    [InlineData("-2s", -2_000)]
    public void Parses(string text, long ms) => Assert.Equal(TimeSpan.FromMilliseconds(ms), GoDuration.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("abc")]
    [InlineData("1x")]
    [InlineData("s")]
    public void RejectsInvalid(string text) => Assert.False(GoDuration.TryParse(text, out _));

    [Theory]
    [InlineData(300_000, "5m0s")]
    [InlineData(45_000, "45s")]
    [InlineData(3_600_000, "1h0m0s")]
    [InlineData(250, "250ms")]
    [InlineData(0, "0s")]
    public void FormatsLikeGo(long ms, string expected) => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromMilliseconds(ms)));
}

public sealed class ListenAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:4160", "127.0.0.1", 4160)]
    [InlineData(":4160", "", 4160)]
    [InlineData("[::1]:0", "::1", 0)]
    [InlineData("localhost:80", "localhost", 80)]
    public void SplitsHostPort(string address, string host, int port)
    {
        Assert.True(ListenAddress.TrySplitHostPort(address, out var h, out var p));
        Assert.Equal(host, h);
        Assert.Equal(port, p);
    }

    [Fact]
    public void NonHostPortIsAUnixSocket() => Assert.True(ListenAddress.Parse("/tmp/nsqlookupd.sock").IsUnixSocket);
}
