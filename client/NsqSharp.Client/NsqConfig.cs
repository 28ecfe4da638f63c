using System.Net;
using System.Net.Security;
using NsqSharp.Client.Config;

namespace NsqSharp.Client;

/// <summary>
/// Settings of a <see cref="Producer"/> or <see cref="Consumer"/>. Every option has the name, default
/// and range of go-nsq's <c>Config</c>, so settings carry over: use the typed properties, or
/// <see cref="Set(string, string)"/> with go-nsq's option names (e.g. <c>Set("max_in_flight", "100")</c>).
/// A producer or consumer copies the config when created; later changes do not affect it.
/// </summary>
public sealed class NsqConfig
{
    /// <summary>Creates a config with go-nsq's defaults.</summary>
    public NsqConfig()
    {
        var host = SafeHostName();
        Hostname = host;
        ClientId = host.Split('.')[0];
    }

    /// <summary><c>dial_timeout</c> (default 1s): deadline for establishing the TCP connection.</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary><c>read_timeout</c> (100ms..5m, default 60s): a connection that receives nothing for this long
    /// (not even a heartbeat) is considered dead. Must be at least <see cref="HeartbeatInterval"/>.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary><c>write_timeout</c> (100ms..5m, default 1s): deadline for one network write.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary><c>local_addr</c>: local IP address (optionally <c>ip:port</c>) to bind before dialing; empty = any.</summary>
    public string? LocalAddress { get; set; }

    /// <summary><c>lookupd_poll_interval</c> (10ms..5m, default 60s): how often nsqlookupd is polled; without
    /// lookupd, the delay between reconnection attempts to a lost nsqd.</summary>
    public TimeSpan LookupdPollInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary><c>lookupd_poll_jitter</c> (0..1, default 0.3): fraction of the poll interval used as random
    /// initial delay, so consumers restarted together do not poll (and connect) at once.</summary>
    public double LookupdPollJitter { get; set; } = 0.3;

    /// <summary><c>lookupd_poll_timeout</c> (default 1m): HTTP timeout of one lookupd query.</summary>
    public TimeSpan LookupdPollTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>max_requeue_delay</c> (0..60m, default 15m): upper bound of the automatic requeue delay.</summary>
    public TimeSpan MaxRequeueDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary><c>default_requeue_delay</c> (0..60m, default 90s): automatic requeue delay per attempt
    /// (delay = default × attempts, capped at <see cref="MaxRequeueDelay"/>).</summary>
    public TimeSpan DefaultRequeueDelay { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary><c>backoff_strategy</c> (<c>exponential</c> default, or <c>full_jitter</c>).</summary>
    public IBackoffStrategy BackoffStrategy { get; set; } = ExponentialBackoffStrategy.Instance;

    /// <summary><c>max_backoff_duration</c> (0..60m, default 2m): longest backoff pause; 0 disables backoff.</summary>
    public TimeSpan MaxBackoffDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary><c>backoff_multiplier</c> (0..60m, default 1s): unit of the backoff strategy.</summary>
    public TimeSpan BackoffMultiplier { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary><c>max_attempts</c> (0..65535, default 5): a message delivered more often than this is handed
    /// to the failed-message hook and finished; 0 = unlimited.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary><c>low_rdy_idle_timeout</c> (1s..5m, default 10s): when RDY is redistributed (more connections
    /// than max_in_flight, or backoff), a connection idle this long gives its RDY to another.</summary>
    public TimeSpan LowRdyIdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary><c>low_rdy_timeout</c> (1s..5m, default 30s): when RDY is redistributed, a connection that has held
    /// RDY this long gives it up regardless of activity.</summary>
    public TimeSpan LowRdyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>rdy_redistribute_interval</c> (1ms..5s, default 5s): how often RDY redistribution is checked.</summary>
    public TimeSpan RdyRedistributeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>client_id</c> sent in IDENTIFY (default: short host name).</summary>
    public string ClientId { get; set; }

    /// <summary><c>hostname</c> sent in IDENTIFY (default: host name).</summary>
    public string Hostname { get; set; }

    /// <summary><c>user_agent</c> sent in IDENTIFY (default <c>NsqSharp.Client/&lt;version&gt;</c>).</summary>
    public string UserAgent { get; set; } = "NsqSharp.Client/" + ClientVersion.Value;

    /// <summary><c>heartbeat_interval</c> (default 30s): how often nsqd sends heartbeats; negative disables
    /// heartbeats (nsqd then refuses SUB). Must not exceed <see cref="ReadTimeout"/>.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>sample_rate</c> (0..99, default 0 = off): percentage of the channel's messages to deliver.</summary>
    public int SampleRate { get; set; }

    /// <summary><c>tls_v1</c>: negotiate TLS. Unlike go-nsq, the connection fails if nsqd does not offer TLS.</summary>
    public bool TlsV1 { get; set; }

    /// <summary><c>tls_root_ca_file</c>: PEM file with the CA(s) that must have issued nsqd's certificate.</summary>
    public string? TlsRootCaFile { get; set; }

    /// <summary><c>tls_insecure_skip_verify</c>: accept any server certificate (testing only).</summary>
    public bool TlsInsecureSkipVerify { get; set; }

    /// <summary><c>tls_cert</c>: PEM client certificate file (with <see cref="TlsKey"/>) for nsqd's
    /// <c>--tls-client-auth-policy</c>.</summary>
    public string? TlsCert { get; set; }

    /// <summary><c>tls_key</c>: PEM private key file of <see cref="TlsCert"/>.</summary>
    public string? TlsKey { get; set; }

    /// <summary><c>tls_min_version</c>: <c>tls1.0</c>, <c>tls1.1</c>, <c>tls1.2</c> or <c>tls1.3</c>; empty = OS default.</summary>
    public string? TlsMinVersion { get; set; }

    /// <summary><c>tls_config</c>: full control over the TLS client options (go-nsq's <c>*tls.Config</c>).
    /// When set, it is used as the base and the <c>tls_*</c> file options are applied on top.</summary>
    public SslClientAuthenticationOptions? TlsOptions { get; set; }

    /// <summary><c>deflate</c>: negotiate deflate compression of the connection.</summary>
    public bool Deflate { get; set; }

    /// <summary><c>deflate_level</c> (1..9, default 6); nsqd caps it at its <c>--max-deflate-level</c>.</summary>
    public int DeflateLevel { get; set; } = 6;

    /// <summary><c>snappy</c>: negotiate snappy (framing format) compression of the connection.</summary>
    public bool Snappy { get; set; }

    /// <summary><c>output_buffer_size</c> (default 16384 bytes): nsqd's write buffer for this client; -1 disables.</summary>
    public long OutputBufferSize { get; set; } = 16384;

    /// <summary><c>output_buffer_timeout</c> (default 250ms): how long nsqd may buffer before flushing;
    /// negative disables buffering.</summary>
    public TimeSpan OutputBufferTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary><c>max_in_flight</c> (min 0, default 1): messages this consumer may hold at once across all
    /// connections; distributed as RDY counts.</summary>
    public int MaxInFlight { get; set; } = 1;

    /// <summary><c>msg_timeout</c> (min 0, default 0 = nsqd's <c>--msg-timeout</c>): server-side time to respond
    /// to a message before it is redelivered.</summary>
    public TimeSpan MsgTimeout { get; set; }

    /// <summary><c>auth_secret</c>: secret sent with AUTH when nsqd requires authorization.</summary>
    public string? AuthSecret { get; set; }

    /// <summary><c>skip_lookupd_authorization</c> (go-nsq's <c>LookupdAuthorization</c>, default true): send
    /// <see cref="AuthSecret"/> as <c>Authorization: Bearer</c> on lookupd queries.</summary>
    public bool LookupdAuthorization { get; set; } = true;

    /// <summary><c>max_frame_size</c> (NsqSharp extension, 1 KiB..1 GiB, default 64 MiB): a server frame larger than
    /// this closes the connection instead of being buffered.</summary>
    public int MaxFrameSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Sets an option by its go-nsq name (<c>-</c> may stand for <c>_</c>). Durations accept Go syntax
    /// (<c>"1m30s"</c>, <c>"250ms"</c>) or an integer number of milliseconds; booleans accept Go's
    /// <c>strconv.ParseBool</c> forms.</summary>
    /// <exception cref="ArgumentException">Unknown option, unparsable value, or value out of range.</exception>
    public NsqConfig Set(string option, string value)
    {
        ArgumentNullException.ThrowIfNull(option);
        ArgumentNullException.ThrowIfNull(value);
        ConfigOptions.Find(option).Set(this, value);
        return this;
    }

    /// <summary>Applies a go-nsq <c>ConfigFlag</c> value as given to <c>--consumer-opt</c>/<c>--producer-opt</c>:
    /// <c>"name,value"</c>, or a bare <c>"name"</c> meaning <c>true</c>.</summary>
    /// <exception cref="ArgumentException">Unknown option or bad value.</exception>
    public NsqConfig ApplyFlag(string flag)
    {
        ArgumentNullException.ThrowIfNull(flag);
        var comma = flag.IndexOf(',', StringComparison.Ordinal);
        return comma < 0 ? Set(flag, "true") : Set(flag[..comma], flag[(comma + 1)..]);
    }

    /// <summary>Returns the current value of an option by its go-nsq name, formatted as <see cref="Set"/> accepts it.</summary>
    /// <exception cref="ArgumentException">Unknown option.</exception>
    public string Get(string option) => ConfigOptions.Find(option).Get(this);

    /// <summary>Names of every option <see cref="Set"/> accepts.</summary>
    public static IReadOnlyList<string> OptionNames => ConfigOptions.Names;

    /// <summary>Checks every option against its range (as go-nsq's <c>Validate</c>).</summary>
    /// <exception cref="ArgumentException">The first option out of range.</exception>
    public void Validate() => ConfigOptions.Validate(this);

    internal NsqConfig Clone() => (NsqConfig)MemberwiseClone();

    private static string SafeHostName()
    {
        try
        {
            return Dns.GetHostName();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return "localhost";
        }
    }
}

/// <summary>The library's version as sent in the default user agent.</summary>
internal static class ClientVersion
{
    public const string Value = "0.1.0";
}
