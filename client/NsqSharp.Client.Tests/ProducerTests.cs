using System.Buffers.Binary;
using System.Text;
using NsqSharp.Client.Tests.Fakes;

namespace NsqSharp.Client.Tests;

public class ProducerTests
{
    private static readonly TimeSpan Wait = TestTimeouts.Default;

    [Fact]
    public async Task Publish_sends_identify_then_pub_and_completes_on_OK()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address, new NsqConfig { ClientId = "pid" });
        var publish = producer.PublishAsync("orders", "hello").AsTask();
        var client = await server.AcceptAsync();
        await client.HandshakeAsync();
        Assert.Equal("pid", client.Identify.GetProperty("client_id").GetString());
        Assert.True(client.Identify.GetProperty("feature_negotiation").GetBoolean());

        var pub = await client.ExpectAsync("PUB");
        Assert.Equal(["orders"], pub.Args);
        Assert.Equal("hello", pub.BodyText);
        Assert.False(publish.IsCompleted);
        await client.SendResponseAsync("OK");
        await publish.WaitAsync(Wait);
        Assert.True(producer.IsConnected);
        Assert.Equal("1.3.0", producer.ServerInfo!.Version);
    }

    [Fact]
    public async Task Server_errors_surface_with_their_code_and_fail_the_rest_when_fatal()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);

        var first = producer.PublishAsync("t", "a").AsTask();
        var second = producer.PublishAsync("t", "b").AsTask();
        await client.ExpectAsync("PUB");
        await client.ExpectAsync("PUB");
        await client.SendErrorAsync("E_PUB_FAILED PUB failed exiting");
        client.Dispose(); // fatal error: nsqd closes the connection

        var error = await Assert.ThrowsAsync<NsqServerException>(() => first.WaitAsync(Wait));
        Assert.Equal("E_PUB_FAILED", error.Code);
        Assert.Equal("PUB failed exiting", error.Description);
        Assert.True(error.IsFatal);
        await Assert.ThrowsAsync<NsqConnectionException>(() => second.WaitAsync(Wait));
    }

    [Fact]
    public async Task Pipelined_publishes_complete_in_order_with_their_own_answers()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);

        var publishes = Enumerable.Range(0, 200).Select(i => producer.PublishAsync("t", "m" + i).AsTask()).ToArray();
        var bodies = new List<string>();
        for (var i = 0; i < publishes.Length; i++)
        {
            bodies.Add((await client.ExpectAsync("PUB")).BodyText);
        }

        Assert.Equal(200, bodies.Distinct().Count());
        var badIndex = bodies.IndexOf("m77");
        for (var i = 0; i < bodies.Count; i++)
        {
            if (i == badIndex)
            {
                await client.SendErrorAsync("E_BAD_MESSAGE PUB message too big");
                break;
            }

            await client.SendResponseAsync("OK");
        }

        client.Dispose();
        for (var i = 0; i < publishes.Length; i++)
        {
            var body = bodies[i];
            var task = publishes[int.Parse(body[1..], System.Globalization.CultureInfo.InvariantCulture)];
            if (i < badIndex)
            {
                await task.WaitAsync(Wait);
            }
            else if (i == badIndex)
            {
                Assert.Equal("E_BAD_MESSAGE", (await Assert.ThrowsAsync<NsqServerException>(() => task.WaitAsync(Wait))).Code);
            }
            else
            {
                await Assert.ThrowsAsync<NsqConnectionException>(() => task.WaitAsync(Wait));
            }
        }
    }

    [Fact]
    public async Task Publishes_issued_before_the_connection_exists_go_out_in_call_order()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var publishes = Enumerable.Range(0, 50).Select(i => producer.PublishAsync("t", "m" + i).AsTask()).ToArray();
        var client = await server.AcceptReadyAsync();
        for (var i = 0; i < publishes.Length; i++)
        {
            Assert.Equal("m" + i, (await client.ExpectAsync("PUB")).BodyText);
            await client.SendResponseAsync("OK");
        }

        await Task.WhenAll(publishes).WaitAsync(Wait);
    }

    [Fact]
    public async Task Large_publishes_wait_for_buffer_space_and_keep_their_order()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);
        var big = new string('b', 1024 * 1024);
        var publishes = Enumerable.Range(0, 12).Select(i => producer.PublishAsync("t", i + big).AsTask()).ToArray();
        for (var i = 0; i < publishes.Length; i++)
        {
            Assert.StartsWith(i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "b", (await client.ExpectAsync("PUB")).BodyText, StringComparison.Ordinal);
            await client.SendResponseAsync("OK");
        }

        await Task.WhenAll(publishes).WaitAsync(Wait);
    }

    [Fact]
    public async Task Mpub_and_dpub_are_encoded_as_nsqd_expects()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);

        var mpub = producer.MultiPublishAsync("t", [Encoding.UTF8.GetBytes("one"), Encoding.UTF8.GetBytes("two")]).AsTask();
        var command = await client.ExpectAsync("MPUB");
        Assert.Equal(["t"], command.Args);
        var body = command.Body!;
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(body));
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(4)));
        Assert.Equal("one", Encoding.UTF8.GetString(body, 8, 3));
        await client.SendResponseAsync("OK");
        await mpub.WaitAsync(Wait);

        var dpub = producer.DeferredPublishAsync("t", TimeSpan.FromSeconds(2.5), "later"u8.ToArray()).AsTask();
        command = await client.ExpectAsync("DPUB");
        Assert.Equal(["t", "2500"], command.Args);
        Assert.Equal("later", command.BodyText);
        await client.SendResponseAsync("OK");
        await dpub.WaitAsync(Wait);
    }

    [Fact]
    public async Task Heartbeats_are_answered_with_NOP()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);
        await client.SendResponseAsync("_heartbeat_");
        Assert.Equal("NOP", (await client.ReadCommandAsync()).Name);
    }

    [Fact]
    public async Task Reconnects_on_the_next_publish_after_the_connection_is_lost()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var first = await ConnectAsync(producer, server);
        first.Dispose();
        await WaitUntilAsync(() => !producer.IsConnected);

        var publish = producer.PublishAsync("t", "again").AsTask();
        var second = await server.AcceptReadyAsync();
        Assert.Equal("again", (await second.ExpectAsync("PUB")).BodyText);
        await second.SendResponseAsync("OK");
        await publish.WaitAsync(Wait);
    }

    [Fact]
    public async Task Cancellation_stops_the_wait_and_later_answers_still_match()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);

        using var cts = new CancellationTokenSource();
        var cancelled = producer.PublishAsync("t", "a", cts.Token).AsTask();
        var next = producer.PublishAsync("t", "b").AsTask();
        await client.ExpectAsync("PUB");
        await client.ExpectAsync("PUB");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Wait));
        await client.SendResponseAsync("OK");
        await client.SendErrorAsync("E_BAD_TOPIC x");
        Assert.Equal("E_BAD_TOPIC", (await Assert.ThrowsAsync<NsqServerException>(() => next.WaitAsync(Wait))).Code);

        var alreadyCancelled = producer.PublishAsync("t", "c", new CancellationToken(true)).AsTask();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => alreadyCancelled);
    }

    [Fact]
    public async Task Invalid_input_is_rejected_before_anything_is_sent()
    {
        await using var producer = new Producer("127.0.0.1:1");
        Assert.Throws<ArgumentException>(() => { _ = producer.PublishAsync("bad topic!", "x"); });
        Assert.Throws<ArgumentException>(() => { _ = producer.PublishAsync("t", ReadOnlyMemory<byte>.Empty); });
        Assert.Throws<ArgumentException>(() => { _ = producer.MultiPublishAsync("t", Array.Empty<ReadOnlyMemory<byte>>()); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = producer.DeferredPublishAsync("t", TimeSpan.FromSeconds(-1), new byte[1]); });
        Assert.Throws<NotSupportedException>(() => { _ = producer.PublishAsync("t", new byte[1], new PublishOptions { PartitionKey = "k" }); });
        Assert.Throws<ArgumentException>(() => new Producer("no-port"));
    }

    [Fact]
    public async Task Connect_failure_is_a_connection_exception()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        await using var producer = new Producer($"127.0.0.1:{port}");
        await Assert.ThrowsAsync<NsqConnectionException>(() => producer.PublishAsync("t", "x").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task Stop_waits_for_outstanding_answers_then_refuses_new_publishes()
    {
        await using var server = new FakeNsqd();
        var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);
        var publish = producer.PublishAsync("t", "x").AsTask();
        await client.ExpectAsync("PUB");
        var stop = producer.StopAsync();
        await Task.Delay(50);
        Assert.False(stop.IsCompleted);
        await client.SendResponseAsync("OK");
        await publish.WaitAsync(Wait);
        await stop.WaitAsync(Wait);
        Assert.True(await client.WaitForCloseAsync());
        Assert.Throws<ObjectDisposedException>(() => { _ = producer.PublishAsync("t", "y"); });
    }

    [Fact]
    public async Task Identify_errors_fail_the_connect()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address, new NsqConfig { Snappy = true, Deflate = true });
        var connect = producer.ConnectAsync();
        var client = await server.AcceptAsync();
        await client.HandshakeAsync();
        var error = await Assert.ThrowsAsync<NsqServerException>(() => connect.WaitAsync(Wait));
        Assert.Equal("E_IDENTIFY_FAILED", error.Code);
        Assert.Equal(server.Address, error.Address);
    }

    [Fact]
    public async Task A_malformed_frame_during_identify_fails_the_connect_as_a_protocol_error()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var connect = producer.ConnectAsync();
        var client = await server.AcceptAsync();
        await client.ExpectAsync("IDENTIFY");
        await client.SendRawAsync([0, 0, 0, 3, 0, 0, 0, 0]); // size 3 cannot even hold the type
        var error = await Assert.ThrowsAsync<NsqProtocolException>(() => connect.WaitAsync(Wait));
        Assert.Contains("invalid frame size 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_frame_later_closes_the_connection_with_a_protocol_error()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address);
        var client = await ConnectAsync(producer, server);
        var publish = producer.PublishAsync("t", "a").AsTask();
        await client.ExpectAsync("PUB");
        await client.SendRawAsync([0, 0, 0, 4, 0, 0, 0, 9]); // frame type 9 does not exist
        var error = await Assert.ThrowsAsync<NsqConnectionException>(() => publish.WaitAsync(Wait));
        var cause = Assert.IsType<NsqProtocolException>(error.InnerException);
        Assert.Equal("unknown frame type 9", cause.Message);
    }

    /// <summary>Connects the producer and returns the server side, handshake done.</summary>
    internal static async Task<FakeClient> ConnectAsync(Producer producer, FakeNsqd server)
    {
        var connect = producer.ConnectAsync();
        var client = await server.AcceptReadyAsync();
        await connect.WaitAsync(Wait);
        return client;
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
