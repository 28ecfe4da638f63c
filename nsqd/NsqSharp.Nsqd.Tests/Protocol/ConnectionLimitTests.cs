using System.Net.Sockets;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Connection limits: --max-connections, and the open-file limit (nsqd under a low RLIMIT_NOFILE must
/// refuse connections before the runtime runs out of descriptors, not spin in accept or die).
/// </summary>
public sealed class ConnectionLimitTests
{
    private const string Identify = "{}";

    [Fact(Timeout = 60_000)]
    public async Task ConnectionsBeyondMaxConnectionsGetAFatalErrorAndAFreedSlotIsReused()
    {
        await using var nsqd = await NsqdInstance.StartAsync(["--max-connections=3"]);
        var open = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                open.Add(await nsqd.ConnectIdentifiedAsync(Identify));
            }

            await using (var fourth = await nsqd.ConnectAsync())
            {
                await fourth.ExpectFatalAsync("E_TOO_MANY_CONNECTIONS refusing client, 3 connections open");
            }

            await open[0].DisposeAsync();
            open.RemoveAt(0);

            // The slot is free once nsqd has seen the close; until then a new connection may still be refused.
            RawConnection? again = null;
            await Wait.UntilAsync(async () =>
            {
                var conn = await nsqd.ConnectAsync();
                await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes(Identify));
                var frame = await conn.ReadFrameAsync();
                if (frame.Type == FrameType.Response && frame.Text == "OK")
                {
                    again = conn;
                    return true;
                }

                Assert.Equal("E_TOO_MANY_CONNECTIONS refusing client, 3 connections open", frame.Text);
                await conn.DisposeAsync();
                return false;
            }, TimeSpan.FromSeconds(10), "a connection is accepted after one closed");
            open.Add(again!);

            await again!.SendAsync("NOP");
            await again.PublishAsync(Names.Unique("limit"), "still works");
            await again.ExpectResponseAsync("OK");
        }
        finally
        {
            foreach (var conn in open)
            {
                await conn.DisposeAsync();
            }
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task AtTheOpenFileLimitNsqdRefusesConnectionsAndStaysAlive()
    {
        // 512 descriptors, about 100 taken by the runtime at start: connections run into the limit quickly.
        await using var nsqd = await NsqdInstance.StartAsync([], new ProcessLimits(OpenFiles: 512));
        var open = new List<RawConnection>();
        var refused = 0;
        var unanswered = 0;
        try
        {
            for (var i = 0; i < 1000 && refused < 50 && unanswered < 5; i++)
            {
                RawConnection conn;
                try
                {
                    conn = await nsqd.ConnectAsync();
                    await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes(Identify));
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                {
                    unanswered++;
                    continue;
                }

                Frame frame;
                try
                {
                    frame = await conn.ReadFrameAsync(TimeSpan.FromSeconds(2));
                }
                catch (Exception e) when (e is TimeoutException or EndOfStreamException or IOException)
                {
                    // not accepted (still in the listen backlog) or closed without a word
                    unanswered++;
                    await conn.DisposeAsync();
                    continue;
                }

                if (frame.Type == FrameType.Response && frame.Text == "OK")
                {
                    open.Add(conn);
                    continue;
                }

                Assert.StartsWith("E_TOO_MANY_CONNECTIONS refusing client, ", frame.Text, StringComparison.Ordinal);
                Assert.EndsWith(" of 512 file descriptors in use", frame.Text, StringComparison.Ordinal);
                refused++;
                await conn.DisposeAsync();
            }

            Assert.True(open.Count > 0, "no connection was accepted at all");
            Assert.Equal(50, refused);
            Assert.Equal(0, unanswered);

            // HTTP draws on the same descriptors: refused with upstream's error style, not left hanging.
            var (status, body) = await nsqd.RawHttpAsync("GET", "/ping");
            Assert.Equal(503, status);
            Assert.Equal("{\"message\":\"TOO_MANY_CONNECTIONS\"}", body);

            // The open connections still work while new ones are refused.
            await open[0].PublishAsync(Names.Unique("fdlimit"), "x");
            await open[0].ExpectResponseAsync("OK");
        }
        finally
        {
            foreach (var conn in open)
            {
                await conn.DisposeAsync();
            }
        }

        Assert.False(nsqd.Process.Process.HasExited, "nsqd died at the descriptor limit:\n" + Tail(nsqd.Output));

        // Once the clients are gone everything is served again.
        await Wait.UntilAsync(async () =>
        {
            try
            {
                var reply = await nsqd.GetAsync("/ping");
                return reply.Status == 200 && reply.Body == "OK";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "/ping answers OK after the clients closed");
        await using (var conn = await nsqd.ConnectIdentifiedAsync(Identify))
        {
            await conn.SendAsync("NOP");
        }

        // Refusals and accept failures are logged at a bounded rate, not once per attempt.
        var lines = nsqd.Output.Split('\n');
        var noisy = lines.Count(l => l.Contains("accept() failure", StringComparison.Ordinal) || l.Contains("refusing client", StringComparison.Ordinal));
        Assert.True(noisy <= 10, $"{noisy} accept-failure/refusal log lines:\n{Tail(nsqd.Output)}");
    }

    private static string Tail(string output) => output.Length > 4000 ? output[^4000..] : output;
}
