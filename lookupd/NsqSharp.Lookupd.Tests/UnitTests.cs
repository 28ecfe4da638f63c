using NsqSharp.Lookupd.Registry;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

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
