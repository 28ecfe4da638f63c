using System.Collections.Concurrent;
using System.Text;
using NsqSharp.Client.Tests.Fakes;

namespace NsqSharp.Client.Tests.Integration;

/// <summary>
/// The client against a real nsqd process, written against the TCP protocol only (no server internals), so the
/// same tests pass against upstream nsqd 1.3.0.
/// </summary>
public class RealNsqdTests(NsqdFixture fixture) : IClassFixture<NsqdFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private string Address => fixture.Nsqd.TcpAddress;

    [NsqdFact]
    public async Task Published_messages_are_consumed_and_finished()
    {
        var topic = NsqdFixture.UniqueTopic("roundtrip");
        await using (var producer = new Producer(Address))
        {
            var publishes = Enumerable.Range(0, 100).Select(i => producer.PublishAsync(topic, $"msg-{i}").AsTask());
            await Task.WhenAll(publishes).WaitAsync(Wait);
            await producer.MultiPublishAsync(topic, [Encoding.UTF8.GetBytes("batch-a"), Encoding.UTF8.GetBytes("batch-b")]).AsTask().WaitAsync(Wait);
        }

        var received = new ConcurrentDictionary<string, int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = new Consumer(topic, "ch", new NsqConfig { MaxInFlight = 25 });
        consumer.AddHandler((m, _) =>
        {
            received.AddOrUpdate(m.GetBodyAsString(), 1, (_, n) => n + 1);
            if (received.Count == 102)
            {
                all.TrySetResult();
            }

            return Task.CompletedTask;
        }, concurrency: 4);
        await consumer.ConnectToNsqdAsync(Address);
        await all.Task.WaitAsync(Wait);
        Assert.Contains("batch-b", received.Keys);
        Assert.Contains("msg-99", received.Keys);
        await ProducerTests.WaitUntilAsync(() => consumer.GetStats().MessagesFinished == 102);
        await consumer.StopAsync().WaitAsync(Wait);
        Assert.Equal(102, consumer.GetStats().MessagesReceived);
    }

    [NsqdFact]
    public async Task Deferred_publish_arrives_after_the_delay()
    {
        var topic = NsqdFixture.UniqueTopic("deferred");
        await using var consumer = new Consumer(topic, "ch");
        var arrived = new TaskCompletionSource<DateTime>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((_, _) =>
        {
            arrived.TrySetResult(DateTime.UtcNow);
            return Task.CompletedTask;
        });
        await consumer.ConnectToNsqdAsync(Address);
        await using var producer = new Producer(Address);
        var sent = DateTime.UtcNow;
        await producer.DeferredPublishAsync(topic, TimeSpan.FromMilliseconds(800), "later"u8.ToArray()).AsTask().WaitAsync(Wait);
        var at = await arrived.Task.WaitAsync(Wait);
        Assert.True(at - sent >= TimeSpan.FromMilliseconds(700), $"arrived after {(at - sent).TotalMilliseconds} ms");
    }

    [NsqdFact]
    public async Task Requeued_messages_come_back_with_more_attempts_until_the_max_attempts_hook()
    {
        var topic = NsqdFixture.UniqueTopic("attempts");
        var config = new NsqConfig { MaxAttempts = 2, DefaultRequeueDelay = TimeSpan.Zero, MaxBackoffDuration = TimeSpan.Zero };
        await using var consumer = new Consumer(topic, "ch", config);
        var attempts = new ConcurrentQueue<int>();
        var failed = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.OnMaxAttemptsExceeded = (m, _) =>
        {
            failed.TrySetResult(m);
            return Task.CompletedTask;
        };
        consumer.AddHandler((m, _) =>
        {
            attempts.Enqueue(m.Attempts);
            throw new InvalidOperationException("always fails");
        });
        await consumer.ConnectToNsqdAsync(Address);
        await using var producer = new Producer(Address);
        await producer.PublishAsync(topic, "poison").AsTask().WaitAsync(Wait);

        var message = await failed.Task.WaitAsync(Wait);
        Assert.Equal(3, message.Attempts);
        Assert.Equal([1, 2], attempts.ToArray());
    }

    [NsqdFact]
    public async Task Touch_keeps_a_slow_message_from_timing_out()
    {
        var topic = NsqdFixture.UniqueTopic("touch");
        // 4.5 s of work against a 3 s msg_timeout, touched every 200 ms: without TOUCH it would be redelivered, with it a
        // stall would have to last 2.8 s (a loaded CI machine stretched the old 300 ms / 1 s margin past the timeout).
        await using var consumer = new Consumer(topic, "ch", new NsqConfig { MsgTimeout = TimeSpan.FromSeconds(3) });
        var deliveries = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler(async (m, ct) =>
        {
            Interlocked.Increment(ref deliveries);
            for (var i = 0; i < 22; i++)
            {
                await Task.Delay(200, ct);
                m.Touch();
            }

            done.TrySetResult();
        });
        await consumer.ConnectToNsqdAsync(Address);
        await using var producer = new Producer(Address);
        await producer.PublishAsync(topic, "slow").AsTask().WaitAsync(Wait);
        await done.Task.WaitAsync(Wait);
        await ProducerTests.WaitUntilAsync(() => consumer.GetStats().MessagesFinished == 1);
        Assert.Equal(1, Volatile.Read(ref deliveries)); // never redelivered
    }

    [NsqdFact]
    public async Task Snappy_and_deflate_connections_work_end_to_end()
    {
        foreach (var config in new[] { new NsqConfig { Snappy = true }, new NsqConfig { Deflate = true, DeflateLevel = 3 } })
        {
            var topic = NsqdFixture.UniqueTopic("compressed");
            await using var producer = new Producer(Address, config);
            var body = new string('z', 20_000);
            await producer.PublishAsync(topic, body).AsTask().WaitAsync(Wait);
            Assert.True(producer.ServerInfo!.Snappy || producer.ServerInfo.Deflate);

            await using var consumer = new Consumer(topic, "ch", config);
            var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            consumer.AddHandler((m, _) =>
            {
                got.TrySetResult(m.GetBodyAsString());
                return Task.CompletedTask;
            });
            await consumer.ConnectToNsqdAsync(Address);
            Assert.Equal(body, await got.Task.WaitAsync(Wait));
        }
    }

    [NsqdFact]
    public async Task Stream_api_consumes_and_stop_ends_the_stream()
    {
        var topic = NsqdFixture.UniqueTopic("stream");
        await using var producer = new Producer(Address);
        for (var i = 0; i < 5; i++)
        {
            await producer.PublishAsync(topic, $"s{i}").AsTask().WaitAsync(Wait);
        }

        var consumer = new Consumer(topic, "ch", new NsqConfig { MaxInFlight = 5 });
        await consumer.ConnectToNsqdAsync(Address);
        var seen = new List<string>();
        using var cts = new CancellationTokenSource(Wait);
        await foreach (var message in consumer.ReadAllAsync(cts.Token))
        {
            seen.Add(message.GetBodyAsString());
            if (seen.Count == 5)
            {
                _ = consumer.StopAsync(); // graceful: the stream ends once the connection drained
            }
        }

        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], seen.Order());
        await consumer.Completion.WaitAsync(Wait);
        Assert.Equal(5, consumer.GetStats().MessagesFinished);
    }

    [NsqdFact]
    public async Task Graceful_stop_waits_for_in_flight_handlers()
    {
        var topic = NsqdFixture.UniqueTopic("drain");
        var consumer = new Consumer(topic, "ch", new NsqConfig { MaxInFlight = 3 });
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler(async (_, _) =>
        {
            started.TrySetResult();
            await release.Task;
        });
        await consumer.ConnectToNsqdAsync(Address);
        await using var producer = new Producer(Address);
        await producer.PublishAsync(topic, "work").AsTask().WaitAsync(Wait);
        await started.Task.WaitAsync(Wait);

        var stop = consumer.StopAsync();
        await Task.Delay(200);
        Assert.False(stop.IsCompleted);
        release.SetResult();
        await stop.WaitAsync(Wait);
        Assert.Equal(1, consumer.GetStats().MessagesFinished);
        Assert.Equal(0, consumer.GetStats().Connections);
    }

    [NsqdFact]
    public async Task Heartbeats_keep_an_idle_producer_connected()
    {
        var topic = NsqdFixture.UniqueTopic("heartbeat");
        var config = new NsqConfig { HeartbeatInterval = TimeSpan.FromSeconds(1), ReadTimeout = TimeSpan.FromSeconds(2) };
        await using var producer = new Producer(Address, config);
        await producer.PublishAsync(topic, "a").AsTask().WaitAsync(Wait);
        await Task.Delay(TimeSpan.FromSeconds(3.5)); // > read_timeout: only heartbeats keep the connection alive
        Assert.True(producer.IsConnected);
        await producer.PublishAsync(topic, "b").AsTask().WaitAsync(Wait);
    }

    [NsqdFact]
    public async Task Server_error_codes_reach_the_caller_and_the_producer_recovers()
    {
        await using var nsqd = await TestServers.StartNsqdAsync("--max-msg-size=100");
        var topic = NsqdFixture.UniqueTopic("errors");
        await using var producer = new Producer(nsqd.TcpAddress);
        var error = await Assert.ThrowsAsync<NsqServerException>(() => producer.PublishAsync(topic, new byte[200]).AsTask().WaitAsync(Wait));
        Assert.Equal("E_BAD_MESSAGE", error.Code);
        Assert.Equal("PUB message too big 200 > 100", error.Description);
        Assert.True(error.IsFatal);

        await producer.PublishAsync(topic, "fits").AsTask().WaitAsync(Wait); // reconnects

        var dpub = await Assert.ThrowsAsync<NsqServerException>(() =>
            producer.DeferredPublishAsync(topic, TimeSpan.FromHours(2), "x"u8.ToArray()).AsTask().WaitAsync(Wait));
        Assert.Equal("E_INVALID", dpub.Code);
    }

    [NsqdFact]
    public async Task Auth_is_refused_by_an_nsqd_without_auth()
    {
        // nsqd without --auth-http-address does not ask for AUTH; a configured secret is simply unused
        await using var producer = new Producer(Address, new NsqConfig { AuthSecret = "unused" });
        await producer.PublishAsync(NsqdFixture.UniqueTopic("noauth"), "x").AsTask().WaitAsync(Wait);
        Assert.False(producer.ServerInfo!.AuthRequired);
        Assert.True(producer.ServerInfo.MaxRdyCount > 0);
    }

    [NsqdFact]
    public async Task Tls_requested_from_an_nsqd_without_certificates_fails_closed()
    {
        await using var producer = new Producer(Address, new NsqConfig { TlsV1 = true });
        await Assert.ThrowsAsync<NsqNegotiationException>(() => producer.ConnectAsync().WaitAsync(Wait));
    }

    [NsqdFact]
    public async Task Tls_with_the_servers_ca_works_end_to_end()
    {
        using var certs = new TestCertificates();
        using var files = new NsqSharp.Testing.TempDirectory("nsqclient-tlsfiles");
        var cert = Path.Combine(files.Path, "server.pem");
        var key = Path.Combine(files.Path, "server.key");
        await File.WriteAllTextAsync(cert, certs.Server.ExportCertificatePem());
        using (var rsa = System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPrivateKey(certs.Server)!)
        {
            await File.WriteAllTextAsync(key, rsa.ExportPkcs8PrivateKeyPem());
        }

        await using var nsqd = await TestServers.StartNsqdAsync($"--tls-cert={cert}", $"--tls-key={key}");
        var config = new NsqConfig { TlsV1 = true, TlsRootCaFile = certs.CaFile };
        var topic = NsqdFixture.UniqueTopic("tls");
        await using var producer = new Producer(nsqd.TcpAddress, config);
        await producer.PublishAsync(topic, "secret").AsTask().WaitAsync(Wait);
        Assert.True(producer.ServerInfo!.TlsV1);

        await using var consumer = new Consumer(topic, "ch", config);
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((m, _) =>
        {
            got.TrySetResult(m.GetBodyAsString());
            return Task.CompletedTask;
        });
        await consumer.ConnectToNsqdAsync(nsqd.TcpAddress);
        Assert.Equal("secret", await got.Task.WaitAsync(Wait));
    }
}
