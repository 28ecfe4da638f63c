using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Support;

/// <summary>One real nsqd shared by the tests of a class (each test uses its own topic names).</summary>
public abstract class NsqdFixture : IAsyncLifetime
{
    private NsqdInstance? _nsqd;

    public NsqdInstance Nsqd => _nsqd ?? throw new InvalidOperationException("nsqd not started");

    protected virtual IEnumerable<string> Arguments() => [];

    protected virtual Task BeforeStartAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await BeforeStartAsync().ConfigureAwait(false);
        _nsqd = await NsqdInstance.StartAsync(Arguments()).ConfigureAwait(false);
    }

    public virtual async Task DisposeAsync()
    {
        if (_nsqd != null)
        {
            await _nsqd.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>nsqd with upstream defaults.</summary>
public sealed class DefaultNsqdFixture : NsqdFixture;

/// <summary>
/// Small limits so every size and range error is reachable (upstream TestSizeLimits uses
/// max-msg-size 100 and max-body-size 1000; TestMaxRdyCount 50; TestReqTimeoutRange 1m).
/// </summary>
public sealed class LimitsNsqdFixture : NsqdFixture
{
    public const int MaxMsgSize = 100;
    public const int MaxBodySize = 1000;
    public const int MaxRdyCount = 50;
    public const int MaxReqTimeoutMs = 60_000;
    public const int MaxHeartbeatMs = 300_000;
    public const int MaxOutputBufferSize = 512 * 1024;
    public const int MaxOutputBufferTimeoutMs = 1000;
    public const int MaxDeflateLevel = 3;
    public const int MaxChannelConsumers = 2;

    protected override IEnumerable<string> Arguments() =>
    [
        $"--max-msg-size={MaxMsgSize}",
        $"--max-body-size={MaxBodySize}",
        $"--max-rdy-count={MaxRdyCount}",
        "--max-req-timeout=1m",
        "--max-heartbeat-interval=5m",
        $"--max-output-buffer-size={MaxOutputBufferSize}",
        "--max-output-buffer-timeout=1s",
        $"--max-deflate-level={MaxDeflateLevel}",
        $"--max-channel-consumers={MaxChannelConsumers}",
        "--snappy=false",
    ];
}

/// <summary>Short server-side message timeouts for in-flight timeout and TOUCH tests; E2E latency tracked.</summary>
public sealed class TimingNsqdFixture : NsqdFixture
{
    public const int MsgTimeoutMs = 600;
    public const int MaxMsgTimeoutMs = 4000;

    protected override IEnumerable<string> Arguments() =>
    [
        $"--msg-timeout={MsgTimeoutMs}ms",
        $"--max-msg-timeout={MaxMsgTimeoutMs}ms",
        "--e2e-processing-latency-percentile=1.0,0.5",
        "--e2e-processing-latency-percentile=0.99",
    ];
}

/// <summary>--client-timeout=2s: default heartbeats every second, two missed ones disconnect. Deflate off.</summary>
public sealed class HeartbeatNsqdFixture : NsqdFixture
{
    public const int HeartbeatMs = 1000;

    protected override IEnumerable<string> Arguments() => ["--client-timeout=2s", "--deflate=false"];
}

/// <summary>nsqd with a certificate; TLS is offered but not required.</summary>
public class TlsNsqdFixture : NsqdFixture
{
    private readonly TempDirectory _certs = new("nsqd-certs");

    public TestCertificates Certificates => TestCertificates.Instance;

    protected string CertPath { get; private set; } = "";

    protected string KeyPath { get; private set; } = "";

    protected string CaPath { get; private set; } = "";

    protected override Task BeforeStartAsync()
    {
        (CertPath, KeyPath, CaPath) = Certificates.WritePem(_certs.Path);
        return Task.CompletedTask;
    }

    protected override IEnumerable<string> Arguments() => [$"--tls-cert={CertPath}", $"--tls-key={KeyPath}"];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        _certs.Dispose();
    }
}

/// <summary>--tls-required=true: TCP clients must upgrade first, plain HTTP is refused.</summary>
public sealed class TlsRequiredNsqdFixture : TlsNsqdFixture
{
    protected override IEnumerable<string> Arguments() => [.. base.Arguments(), "--tls-required=true"];
}

/// <summary>--tls-required=tcp-https: TCP clients must upgrade, plain HTTP still works.</summary>
public sealed class TlsRequiredExceptHttpNsqdFixture : TlsNsqdFixture
{
    protected override IEnumerable<string> Arguments() => [.. base.Arguments(), "--tls-required=tcp-https"];
}

/// <summary>--tls-client-auth-policy=require-verify with our test CA as root.</summary>
public sealed class TlsClientVerifyNsqdFixture : TlsNsqdFixture
{
    protected override IEnumerable<string> Arguments() =>
        [.. base.Arguments(), "--tls-client-auth-policy=require-verify", $"--tls-root-ca-file={CaPath}"];
}

/// <summary>--tls-client-auth-policy=require: any client certificate will do.</summary>
public sealed class TlsClientRequireNsqdFixture : TlsNsqdFixture
{
    protected override IEnumerable<string> Arguments() => [.. base.Arguments(), "--tls-client-auth-policy=require"];
}

/// <summary>nsqd with --auth-http-address pointing at a test auth server.</summary>
public sealed class AuthNsqdFixture : NsqdFixture
{
    private TestAuthServer? _auth;

    public TestAuthServer Auth => _auth ?? throw new InvalidOperationException("auth server not started");

    protected override async Task BeforeStartAsync() => _auth = await TestAuthServer.StartAsync().ConfigureAwait(false);

    protected override IEnumerable<string> Arguments() => [$"--auth-http-address={Auth.Address}"];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        if (_auth != null)
        {
            await _auth.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// TLS with a required client certificate plus auth by form POST to a full URL
/// (--auth-http-address=http://host:port/path --auth-http-request-method=post).
/// </summary>
public sealed class AuthOverTlsNsqdFixture : TlsNsqdFixture
{
    private TestAuthServer? _auth;

    public TestAuthServer Auth => _auth ?? throw new InvalidOperationException("auth server not started");

    protected override async Task BeforeStartAsync()
    {
        await base.BeforeStartAsync().ConfigureAwait(false);
        _auth = await TestAuthServer.StartAsync().ConfigureAwait(false);
    }

    protected override IEnumerable<string> Arguments() =>
    [
        .. base.Arguments(),
        "--tls-client-auth-policy=require",
        $"--auth-http-address=http://{Auth.Address}/custom/auth",
        "--auth-http-request-method=post",
    ];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        if (_auth != null)
        {
            await _auth.DisposeAsync().ConfigureAwait(false);
        }
    }
}
