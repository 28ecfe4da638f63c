using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Tests;

/// <summary>An in-process lookupd on 127.0.0.1 with OS-chosen ports and a manual clock.</summary>
internal sealed class TestLookupd : IAsyncDisposable
{
    private TestLookupd(NsqLookupd lookupd, LookupdOptions options, ManualTimeProvider clock)
    {
        Lookupd = lookupd;
        Options = options;
        Clock = clock;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{lookupd.HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public NsqLookupd Lookupd { get; }

    /// <summary>The in-memory registry behind it, read synchronously by assertions.</summary>
    public RegistrationDb Db => (RegistrationDb)Lookupd.Registry;

    public LookupdOptions Options { get; }

    public ManualTimeProvider Clock { get; }

    public HttpClient Http { get; }

    public int TcpPort => Lookupd.TcpPort;

    public static async Task<TestLookupd> StartAsync(Action<LookupdOptions>? configure = null)
    {
        var clock = new ManualTimeProvider();
        var options = new LookupdOptions
        {
            TcpAddress = "127.0.0.1:0",
            HttpAddress = "127.0.0.1:0",
            BroadcastAddress = "127.0.0.1",
            Hostname = "lookupd-test",
            TimeProvider = clock,
        };
        configure?.Invoke(options);
        var lookupd = new NsqLookupd(options);
        await lookupd.StartAsync();
        return new TestLookupd(lookupd, options, clock);
    }

    public Task<V1Client> ConnectAsync() => V1Client.ConnectAsync(TcpPort);

    /// <summary>Connects, IDENTIFYs as an nsqd with the given ports and returns the client.</summary>
    public async Task<V1Client> ConnectProducerAsync(int tcpPort = 4150, int httpPort = 4151, string broadcast = "127.0.0.1")
    {
        var client = await ConnectAsync();
        await client.SendMagicAsync();
        var response = await client.IdentifyAsync(V1Client.IdentifyJson(broadcast, tcpPort, httpPort));
        if (!response.StartsWith('{'))
        {
            throw new InvalidOperationException("IDENTIFY failed: " + response);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Lookupd.DisposeAsync();
    }
}
