using System.Net;
using NsqSharp.Client.Tests.Fakes;

namespace NsqSharp.Client.Tests;

public class ConsumerTests
{
    private static readonly TimeSpan Wait = TestTimeouts.Default;

    private static async Task<FakeClient> ConnectAsync(Consumer consumer, FakeNsqd server)
    {
        var connect = consumer.ConnectToNsqdAsync(server.Address);
        var client = await server.AcceptReadyAsync(subscribe: true);
        await connect.WaitAsync(Wait);
        return client;
    }

    [Fact]
    public async Task Subscribes_sends_rdy_and_finishes_handled_messages()
    {
        await using var consumer = new Consumer("orders", "billing", new NsqConfig { MaxInFlight = 7 });
        await using var server = new FakeNsqd();
        var handled = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((m, _) =>
        {
            handled.TrySetResult(m);
            return Task.CompletedTask;
        });

        var client = await ConnectAsync(consumer, server);
        Assert.Equal(("orders", "billing"), client.Subscription);
        Assert.Equal(["7"], (await client.ExpectAsync("RDY")).Args);

        await client.SendMessageAsync("0000000000000001", 1, "payload", timestampNs: 1_700_000_000_123_456_789);
        var message = await handled.Task.WaitAsync(Wait);
        Assert.Equal("payload", message.GetBodyAsString());
        Assert.Equal(1, message.Attempts);
        Assert.Equal(server.Address, message.NsqdAddress);
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero).AddTicks(1_234_567), message.Timestamp);
        Assert.Equal(["0000000000000001"], (await client.ExpectAsync("FIN")).Args);
        await ProducerTests.WaitUntilAsync(() => consumer.GetStats().MessagesFinished == 1);
        Assert.Equal(new ConsumerStats(1, 1, 0, 1), consumer.GetStats());
    }

    [Fact]
    public async Task Handler_failure_requeues_with_attempt_scaled_delay_and_backs_off()
    {
        var config = new NsqConfig { MaxInFlight = 5, BackoffMultiplier = TimeSpan.FromMilliseconds(50) };
        await using var consumer = new Consumer("t", "c", config);
        await using var server = new FakeNsqd();
        var fail = true;
        consumer.AddHandler((_, _) => fail ? throw new InvalidOperationException("boom") : Task.CompletedTask);
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");

        await client.SendMessageAsync("000000000000000a", 2, "x");
        var req = await client.ExpectAsync("REQ");
        Assert.Equal(["000000000000000a", "180000"], req.Args); // default_requeue_delay 90s × 2 attempts
        Assert.Equal(["0"], (await client.ExpectAsync("RDY")).Args); // backoff: everything paused
        Assert.Equal(["1"], (await client.ExpectAsync("RDY")).Args); // after 100ms: one message to test the waters

        fail = false;
        await client.SendMessageAsync("000000000000000b", 1, "y");
        await client.ExpectAsync("FIN");
        Assert.Equal(["5"], (await client.ExpectAsync("RDY")).Args); // success: backoff over
        Assert.Equal(1, consumer.GetStats().MessagesRequeued);
    }

    [Fact]
    public async Task Messages_over_max_attempts_go_to_the_hook_and_are_finished()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { MaxAttempts = 5 });
        await using var server = new FakeNsqd();
        var handlerCalls = 0;
        var failed = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.OnMaxAttemptsExceeded = (m, _) =>
        {
            failed.TrySetResult(m);
            return Task.CompletedTask;
        };
        consumer.AddHandler((_, _) =>
        {
            Interlocked.Increment(ref handlerCalls);
            return Task.CompletedTask;
        });
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000006", 6, "poison");
        Assert.Equal("poison", (await failed.Task.WaitAsync(Wait)).GetBodyAsString());
        await client.ExpectAsync("FIN");
        Assert.Equal(0, handlerCalls);
    }

    [Fact]
    public async Task Handler_can_touch_and_respond_explicitly()
    {
        await using var consumer = new Consumer("t", "c");
        await using var server = new FakeNsqd();
        consumer.AddHandler((m, _) =>
        {
            m.Touch();
            m.RequeueWithoutBackoff(TimeSpan.FromSeconds(3));
            m.Finish(); // ignored: already responded
            return Task.CompletedTask;
        });
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000007", 1, "x");
        Assert.Equal(["0000000000000007"], (await client.ExpectAsync("TOUCH")).Args);
        Assert.Equal(["0000000000000007", "3000"], (await client.ExpectAsync("REQ")).Args);
        await client.SendMessageAsync("0000000000000008", 1, "y");
        Assert.Equal("TOUCH", (await client.ReadCommandAsync()).Name); // no FIN, no RDY change in between
    }

    [Fact]
    public async Task Concurrent_handlers_process_in_parallel()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { MaxInFlight = 4 });
        await using var server = new FakeNsqd();
        var inside = 0;
        var maxInside = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler(async (_, _) =>
        {
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref maxInside, now);
            await gate.Task;
            Interlocked.Decrement(ref inside);
        }, concurrency: 4);
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        for (var i = 0; i < 4; i++)
        {
            await client.SendMessageAsync("000000000000001" + i, 1, "x");
        }

        await ProducerTests.WaitUntilAsync(() => Volatile.Read(ref maxInside) == 4);
        gate.SetResult();
        for (var i = 0; i < 4; i++)
        {
            await client.ExpectAsync("FIN");
        }
    }

    [Fact]
    public async Task Stream_api_finishes_on_next_and_requeues_the_current_message_on_break()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { MaxInFlight = 2 });
        await using var server = new FakeNsqd();
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000021", 1, "first");
        await client.SendMessageAsync("0000000000000022", 1, "second");

        var seen = new List<string>();
        using var cts = new CancellationTokenSource(Wait);
        await foreach (var message in consumer.ReadAllAsync(cts.Token))
        {
            seen.Add(message.GetBodyAsString());
            if (seen.Count == 2)
            {
                break;
            }
        }

        Assert.Equal(["first", "second"], seen);
        Assert.Equal(["0000000000000021"], (await client.ExpectAsync("FIN")).Args);
        Assert.Equal(["0000000000000022", "0"], (await client.ExpectAsync("REQ")).Args);
        Assert.Throws<InvalidOperationException>(() => consumer.AddHandler((_, _) => Task.CompletedTask));
    }

    [Fact]
    public async Task Stop_sends_CLS_and_drains_in_flight_work_before_closing()
    {
        await using var server = new FakeNsqd();
        var consumer = new Consumer("t", "c");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler(async (_, _) =>
        {
            started.SetResult();
            await release.Task;
        });
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000031", 1, "slow");
        await started.Task.WaitAsync(Wait);

        var stop = consumer.StopAsync();
        await client.ExpectAsync("CLS");
        await client.SendResponseAsync("CLOSE_WAIT");
        await Task.Delay(100);
        Assert.False(stop.IsCompleted); // still draining the in-flight message

        release.SetResult();
        Assert.Equal(["0000000000000031"], (await client.ExpectAsync("FIN")).Args);
        await stop.WaitAsync(Wait);
        Assert.True(consumer.Completion.IsCompleted);
        Assert.True(await client.WaitForCloseAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => consumer.ConnectToNsqdAsync(server.Address));
    }

    [Fact]
    public async Task Stop_times_out_cancels_handlers_and_requeues_buffered_messages()
    {
        await using var server = new FakeNsqd();
        var consumer = new Consumer("t", "c", new NsqConfig { MaxInFlight = 2 });
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler(async (_, token) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
                throw;
            }
        });
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000041", 1, "a");
        await client.SendMessageAsync("0000000000000042", 1, "b");
        await ProducerTests.WaitUntilAsync(() => consumer.GetStats().MessagesReceived == 2);

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consumer.StopAsync(cts.Token));
        await cancelled.Task.WaitAsync(Wait);
        var requeued = new HashSet<string>();
        var seen = new List<string>();
        while (requeued.Count < 2)
        {
            FakeCommand command;
            try
            {
                command = await client.ReadCommandAsync();
            }
            catch (EndOfStreamException)
            {
                Assert.Fail("closed after: " + string.Join(" | ", seen));
                return;
            }

            seen.Add(command.ToString());
            if (command.Name != "REQ")
            {
                continue;
            }

            Assert.Equal("0", command.Args[1]);
            requeued.Add(command.Args[0]);
        }

        Assert.True(consumer.Completion.IsCompleted);
    }

    [Fact]
    public async Task Max_in_flight_is_shared_between_nsqds()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { MaxInFlight = 4 });
        await using var first = new FakeNsqd();
        await using var second = new FakeNsqd();
        consumer.AddHandler((_, _) => Task.CompletedTask);
        var a = await ConnectAsync(consumer, first);
        Assert.Equal(["4"], (await a.ExpectAsync("RDY")).Args);
        var b = await ConnectAsync(consumer, second);
        Assert.Equal(["2"], (await a.ExpectAsync("RDY")).Args);
        Assert.Equal(["2"], (await b.ExpectAsync("RDY")).Args);
        Assert.Equal(2, consumer.GetStats().Connections);

        consumer.ChangeMaxInFlight(0);
        Assert.Equal(["0"], (await a.ExpectAsync("RDY")).Args);
        Assert.Equal(["0"], (await b.ExpectAsync("RDY")).Args);
    }

    [Fact]
    public async Task Lost_direct_connection_is_redialed_after_the_poll_interval()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { LookupdPollInterval = TimeSpan.FromMilliseconds(50) });
        await using var server = new FakeNsqd();
        consumer.AddHandler((_, _) => Task.CompletedTask);
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        client.Dispose();

        var again = await server.AcceptReadyAsync(subscribe: true);
        Assert.Equal(("t", "c"), again.Subscription);
        Assert.Equal(["1"], (await again.ExpectAsync("RDY")).Args);
    }

    [Fact]
    public async Task Non_fatal_errors_keep_the_connection()
    {
        await using var consumer = new Consumer("t", "c");
        await using var server = new FakeNsqd();
        var handled = 0;
        consumer.AddHandler((_, _) =>
        {
            Interlocked.Increment(ref handled);
            return Task.CompletedTask;
        });
        var client = await ConnectAsync(consumer, server);
        await client.ExpectAsync("RDY");
        await client.SendErrorAsync("E_FIN_FAILED FIN 0000000000000099 failed ID not in flight");
        await client.SendMessageAsync("0000000000000051", 1, "still works");
        await client.ExpectAsync("FIN");
        Assert.Equal(1, handled);
    }

    [Fact]
    public async Task Lookupd_discovery_connects_to_every_producer_of_the_topic()
    {
        await using var server = new FakeNsqd();
        var requests = new List<Uri>();
        var lookupd = new StubLookupd(request =>
        {
            lock (requests)
            {
                requests.Add(request.RequestUri!);
            }

            Assert.Equal("application/vnd.nsq; version=1.0", request.Headers.Accept.ToString());
            var json = $$"""{"channels":["c"],"producers":[{"remote_address":"127.0.0.1:5555","hostname":"h","broadcast_address":"127.0.0.1","tcp_port":{{server.Port}},"http_port":1,"version":"1.3.0"}]}""";
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json) };
        });
        await using var consumer = new Consumer("orders", "c", new NsqConfig { LookupdPollInterval = TimeSpan.FromSeconds(30) },
            null, TimeProvider.System, lookupd);
        consumer.AddHandler((_, _) => Task.CompletedTask);

        var connect = consumer.ConnectToNsqLookupdAsync("127.0.0.1:4161");
        var client = await server.AcceptReadyAsync(subscribe: true);
        await connect.WaitAsync(Wait);
        Assert.Equal(("orders", "c"), client.Subscription);
        Assert.Equal("http://127.0.0.1:4161/lookup?topic=orders", requests[0].ToString());
        Assert.Equal(1, consumer.GetStats().Connections);
        await server.DisposeAsync(); // before the consumer, so its stop need not wait for CLOSE_WAIT
    }

    [Fact]
    public async Task Unknown_topic_in_lookupd_is_not_an_error()
    {
        var lookupd = new StubLookupd(_ => new HttpResponseMessage(HttpStatusCode.NotFound)
        {
            Content = new StringContent("{\"message\":\"TOPIC_NOT_FOUND\"}"),
        });
        await using var consumer = new Consumer("t", "c", null, null, TimeProvider.System, lookupd);
        await consumer.ConnectToNsqLookupdAsync("http://127.0.0.1:4161").WaitAsync(Wait);
        Assert.Equal(0, consumer.GetStats().Connections);
        Assert.Throws<InvalidOperationException>(() => consumer.DisconnectFromNsqLookupd("127.0.0.1:4161"));
    }

    [Fact]
    public async Task Extension_options_are_refused_until_a_server_offers_them()
    {
        await using var consumer = new Consumer("t", "c") { SubscribeOptions = new SubscribeOptions { Ordered = true } };
        await Assert.ThrowsAsync<NotSupportedException>(() => consumer.ConnectToNsqdAsync("127.0.0.1:4150"));
        await using var other = new Consumer("t", "c") { SubscribeOptions = new SubscribeOptions { StartPosition = StartPosition.Oldest } };
        await Assert.ThrowsAsync<NotSupportedException>(() => other.ConnectToNsqdAsync("127.0.0.1:4150"));
    }

    [Fact]
    public void Names_are_validated()
    {
        Assert.Throws<ArgumentException>(() => new Consumer("bad topic", "c"));
        Assert.Throws<ArgumentException>(() => new Consumer("t", new string('c', 65)));
        _ = new Consumer("t", "tail123#ephemeral");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private sealed class StubLookupd(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(respond(request));
    }
}
