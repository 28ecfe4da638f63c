using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Client.Consuming;
using NsqSharp.Client.Tests.Fakes;

namespace NsqSharp.Client.Tests;

public class RdyControllerTests
{
    private readonly ManualTimeProvider _time = new();

    private sealed class FakeConnection(string address, ManualTimeProvider time, long maxRdy = 2500) : IRdyConnection
    {
        public string Address { get; } = address;

        public long RdyCount { get; set; }

        public long MaxRdyCount { get; } = maxRdy;

        public long LastRdyTimestamp { get; set; }

        public long LastMessageTimestamp { get; set; } = time.GetTimestamp();

        public long InFlight { get; set; }

        public bool IsClosing { get; set; }

        public List<long> Sent { get; } = [];

        public void WriteRdy(long count) => Sent.Add(count);
    }

    private RdyController Controller(int maxInFlight, Action<NsqConfig>? configure = null)
    {
        var config = new NsqConfig { MaxInFlight = maxInFlight };
        configure?.Invoke(config);
        var controller = new RdyController(config, _time, new Random(1), NullLogger.Instance);
        controller.Start();
        return controller;
    }

    private FakeConnection Conn(string name, long maxRdy = 2500) => new(name, _time, maxRdy);

    [Fact]
    public void Max_in_flight_is_split_across_connections_and_never_exceeded()
    {
        using var rdy = Controller(10);
        var a = Conn("a");
        var b = Conn("b");
        var c = Conn("c");
        rdy.AddConnection(a);
        Assert.Equal([10], a.Sent);
        rdy.AddConnection(b);
        Assert.Equal([10, 5], a.Sent);
        Assert.Equal([5], b.Sent);
        rdy.AddConnection(c);
        Assert.Equal([10, 5, 3], a.Sent);
        Assert.Equal([5, 3], b.Sent);
        Assert.Equal([3], c.Sent);
        Assert.Equal(9, rdy.TotalRdy);
    }

    [Fact]
    public void Rdy_never_exceeds_nsqd_max_rdy_count()
    {
        using var rdy = Controller(100);
        var a = Conn("a", maxRdy: 5);
        rdy.AddConnection(a);
        Assert.Equal([5], a.Sent);
    }

    [Fact]
    public void More_connections_than_max_in_flight_rotates_rdy_to_idle_connections()
    {
        using var rdy = Controller(2);
        var a = Conn("a");
        var b = Conn("b");
        var c = Conn("c");
        rdy.AddConnection(a);
        rdy.AddConnection(b);
        rdy.AddConnection(c);
        Assert.Equal(1, a.RdyCount);
        Assert.Equal(1, b.RdyCount);
        Assert.Equal(0, c.RdyCount);
        Assert.Empty(c.Sent); // no room: a retry is scheduled instead

        _time.Advance(TimeSpan.FromSeconds(5)); // redistribution tick, nobody idle long enough yet
        Assert.Equal(2, rdy.TotalRdy);

        _time.Advance(TimeSpan.FromSeconds(10)); // now a and b are idle past low_rdy_idle_timeout (10s)
        Assert.Equal(2, rdy.TotalRdy);
        Assert.Equal(2, new[] { a, b, c }.Count(x => x.RdyCount == 1));
        Assert.Contains(0L, a.Sent.Concat(b.Sent)); // someone gave its RDY up
    }

    [Fact]
    public void A_starved_connection_retries_after_five_seconds()
    {
        using var rdy = Controller(1, c => c.RdyRedistributeInterval = TimeSpan.FromSeconds(5));
        var a = Conn("a");
        var b = Conn("b");
        rdy.AddConnection(a);
        rdy.AddConnection(b);
        Assert.Equal(1, a.RdyCount);
        Assert.Equal(0, b.RdyCount);
        a.IsClosing = true;
        rdy.RemoveConnection(a);
        Assert.Equal(0, rdy.TotalRdy);
        _time.Advance(RdyController.RetryDelay);
        Assert.Equal(1, b.RdyCount);
    }

    [Fact]
    public void Backoff_pauses_everything_then_tests_the_waters_with_rdy_1()
    {
        using var rdy = Controller(10);
        var a = Conn("a");
        var b = Conn("b");
        rdy.AddConnection(a);
        rdy.AddConnection(b);

        rdy.OnRequeue(backoff: true);
        Assert.Equal(1, rdy.BackoffLevel);
        Assert.True(rdy.InBackoffTimeout);
        Assert.Equal(0, a.RdyCount);
        Assert.Equal(0, b.RdyCount);

        rdy.OnRequeue(backoff: true); // ignored during the pause
        rdy.OnSuccess();
        Assert.Equal(1, rdy.BackoffLevel);

        _time.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(1));
        Assert.True(rdy.InBackoffTimeout);
        _time.Advance(TimeSpan.FromMilliseconds(1)); // 1s × 2^1
        Assert.False(rdy.InBackoffTimeout);
        Assert.Equal(1, rdy.TotalRdy);

        rdy.OnSuccess(); // level 1 -> 0: everyone back to full share
        Assert.Equal(0, rdy.BackoffLevel);
        Assert.Equal(5, a.RdyCount);
        Assert.Equal(5, b.RdyCount);
    }

    [Fact]
    public void Backoff_level_stops_growing_at_max_backoff_duration()
    {
        using var rdy = Controller(1, c => c.MaxBackoffDuration = TimeSpan.FromSeconds(3));
        rdy.AddConnection(Conn("a"));
        rdy.OnRequeue(backoff: true); // 2s <= 3s: level 1
        _time.Advance(TimeSpan.FromSeconds(2));
        rdy.OnRequeue(backoff: true); // 4s > 3s: stays at 1, pauses 2s again
        Assert.Equal(1, rdy.BackoffLevel);
        Assert.True(rdy.InBackoffTimeout);
    }

    [Fact]
    public void Zero_max_backoff_duration_disables_backoff()
    {
        using var rdy = Controller(4, c => c.MaxBackoffDuration = TimeSpan.Zero);
        var a = Conn("a");
        rdy.AddConnection(a);
        rdy.OnRequeue(backoff: true);
        Assert.Equal(0, rdy.BackoffLevel);
        Assert.Equal(4, a.RdyCount);
    }

    [Fact]
    public void Requeue_without_backoff_keeps_the_current_level_paused()
    {
        using var rdy = Controller(4);
        var a = Conn("a");
        rdy.AddConnection(a);
        rdy.OnRequeue(backoff: true);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, a.RdyCount);
        rdy.OnRequeue(backoff: false);
        Assert.Equal(1, rdy.BackoffLevel);
        Assert.Equal(0, a.RdyCount);
        Assert.True(rdy.InBackoffTimeout);
    }

    [Fact]
    public void Change_max_in_flight_updates_every_connection()
    {
        using var rdy = Controller(10);
        var a = Conn("a");
        var b = Conn("b");
        rdy.AddConnection(a);
        rdy.AddConnection(b);
        rdy.ChangeMaxInFlight(0);
        Assert.Equal(0, a.RdyCount);
        Assert.Equal(0, b.RdyCount);
        rdy.ChangeMaxInFlight(20);
        Assert.Equal(10, a.RdyCount);
        Assert.Equal(10, b.RdyCount);
    }

    [Fact]
    public void Closing_connections_get_no_rdy_and_removal_returns_their_share()
    {
        using var rdy = Controller(10);
        var a = Conn("a");
        var b = Conn("b");
        rdy.AddConnection(a);
        rdy.AddConnection(b);
        b.IsClosing = true;
        rdy.RemoveConnection(b);
        Assert.Equal(5, rdy.TotalRdy);
        rdy.ChangeMaxInFlight(8);
        Assert.Equal(8, a.RdyCount);
    }

    [Fact]
    public void Starvation_is_in_flight_near_rdy()
    {
        using var rdy = Controller(10);
        var a = Conn("a");
        rdy.AddConnection(a);
        Assert.False(rdy.IsStarved());
        a.InFlight = 9;
        Assert.True(rdy.IsStarved());
    }
}
