using NsqSharp.Common.Cli;
using NsqSharp.Lookupd.Http;
using NsqSharp.Lookupd.Net;
using NsqSharp.Lookupd.Registry;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

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

public sealed class RegistrationDbTests
{
    private static PeerInfo Peer(string id, int http = 4151) => new(id) { BroadcastAddress = "b-" + id, TcpPort = 4150, HttpPort = http, Version = "1.3.0" };

    [Fact]
    public void AddProducerIsIdempotentAndKeepsTombstone()
    {
        var clock = new ManualTimeProvider();
        var db = new RegistrationDb(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(45), clock);
        var peer = Peer("p1");
        db.Touch(peer);
        Assert.True(db.RegisterTopic(peer, "t"));
        Assert.False(db.RegisterTopic(peer, "t"));
        Assert.Equal(1, db.TombstoneTopicProducer("t", "b-p1:4151"));
        Assert.False(db.RegisterTopic(peer, "t")); // re-register keeps the tombstone, as upstream
        Assert.Empty(db.GetActiveProducers("t"));
        clock.Advance(TimeSpan.FromSeconds(45));
        db.Touch(peer);
        Assert.Single(db.GetActiveProducers("t"));
    }

    [Fact]
    public void RemovePeerOnlyRemovesThatConnectionsProducer()
    {
        var db = new RegistrationDb(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(45));
        var old = Peer("127.0.0.1:5000");
        var reused = Peer("127.0.0.1:5000"); // same remote address, new connection
        db.RegisterTopic(old, "t");
        db.RemovePeer(reused);
        Assert.Single(db.GetDebugEntries());
        Assert.Single(db.RemovePeer(old));
        Assert.Empty(db.GetDebugEntries());
    }

    [Fact]
    public void DeleteTopicRemovesChannelsAndProducers()
    {
        var db = new RegistrationDb(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(45));
        var peer = Peer("p");
        db.Touch(peer);
        db.AddPeer(peer);
        db.RegisterChannel(peer, "t", "c");
        db.RegisterTopic(peer, "t");
        db.DeleteTopic("t");
        Assert.Empty(db.GetTopics());
        Assert.Empty(db.GetChannels("t"));
        var entry = Assert.Single(db.GetDebugEntries());
        Assert.Equal(Registration.Client, entry.Key);
        Assert.Empty(Assert.Single(db.GetNodes()).Topics);
    }
}
