using NsqSharp.Client.Config;

namespace NsqSharp.Client.Tests;

public class ConfigTests
{
    [Fact]
    public void Defaults_match_go_nsq()
    {
        var c = new NsqConfig();
        Assert.Equal("1s", c.Get("dial_timeout"));
        Assert.Equal("1m0s", c.Get("read_timeout"));
        Assert.Equal("1s", c.Get("write_timeout"));
        Assert.Equal("1m0s", c.Get("lookupd_poll_interval"));
        Assert.Equal("0.3", c.Get("lookupd_poll_jitter"));
        Assert.Equal("15m0s", c.Get("max_requeue_delay"));
        Assert.Equal("1m30s", c.Get("default_requeue_delay"));
        Assert.Equal("exponential", c.Get("backoff_strategy"));
        Assert.Equal("2m0s", c.Get("max_backoff_duration"));
        Assert.Equal("1s", c.Get("backoff_multiplier"));
        Assert.Equal("5", c.Get("max_attempts"));
        Assert.Equal("10s", c.Get("low_rdy_idle_timeout"));
        Assert.Equal("30s", c.Get("low_rdy_timeout"));
        Assert.Equal("5s", c.Get("rdy_redistribute_interval"));
        Assert.Equal("30s", c.Get("heartbeat_interval"));
        Assert.Equal("6", c.Get("deflate_level"));
        Assert.Equal("16384", c.Get("output_buffer_size"));
        Assert.Equal("250ms", c.Get("output_buffer_timeout"));
        Assert.Equal("1", c.Get("max_in_flight"));
        Assert.Equal("0s", c.Get("msg_timeout"));
        Assert.Equal("true", c.Get("skip_lookupd_authorization"));
        Assert.False(string.IsNullOrEmpty(c.ClientId));
        c.Validate();
    }

    [Fact]
    public void Set_accepts_go_syntax_and_hyphens()
    {
        var c = new NsqConfig()
            .Set("max_in_flight", "100")
            .Set("max-attempts", "10")
            .Set("read_timeout", "1m30s")
            .Set("write_timeout", "1500")
            .Set("heartbeat_interval", "10s")
            .Set("snappy", "t")
            .Set("tls_v1", "1")
            .Set("lookupd_poll_jitter", "0.5")
            .Set("backoff_strategy", "full_jitter")
            .Set("tls_min_version", "tls1.2")
            .Set("auth_secret", "s3cret");
        Assert.Equal(100, c.MaxInFlight);
        Assert.Equal(10, c.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(90), c.ReadTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), c.WriteTimeout);
        Assert.True(c.Snappy);
        Assert.True(c.TlsV1);
        Assert.Equal(0.5, c.LookupdPollJitter);
        Assert.IsType<FullJitterBackoffStrategy>(c.BackoffStrategy);
        Assert.Equal("tls1.2", c.TlsMinVersion);
        Assert.Equal("s3cret", c.AuthSecret);
        c.Validate();
    }

    [Theory]
    [InlineData("max_in_flight", "-1", "invalid max_in_flight ! -1 < 0")]
    [InlineData("read_timeout", "50ms", "invalid read_timeout ! 50ms < 100ms")]
    [InlineData("write_timeout", "6m", "invalid write_timeout ! 6m0s > 5m0s")]
    [InlineData("sample_rate", "100", "invalid sample_rate ! 100 > 99")]
    [InlineData("deflate_level", "0", "invalid deflate_level ! 0 < 1")]
    [InlineData("max_attempts", "65536", "invalid max_attempts ! 65536 > 65535")]
    [InlineData("lookupd_poll_jitter", "1.5", "invalid lookupd_poll_jitter ! 1.5 > 1")]
    [InlineData("rdy_redistribute_interval", "6s", "invalid rdy_redistribute_interval ! 6s > 5s")]
    public void Set_rejects_values_out_of_go_nsq_ranges(string option, string value, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => new NsqConfig().Set(option, value));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Set_rejects_unknown_options_and_bad_values()
    {
        Assert.StartsWith("invalid option nope", Assert.Throws<ArgumentException>(() => new NsqConfig().Set("nope", "1")).Message,
            StringComparison.Ordinal);
        Assert.StartsWith("failed to coerce option read_timeout (soon)",
            Assert.Throws<ArgumentException>(() => new NsqConfig().Set("read_timeout", "soon")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new NsqConfig().Set("snappy", "yes"));
        Assert.Throws<ArgumentException>(() => new NsqConfig().Set("backoff_strategy", "linear"));
        Assert.Throws<ArgumentException>(() => new NsqConfig().Set("tls_min_version", "tls9"));
    }

    [Fact]
    public void Validate_checks_ranges_and_heartbeat_against_read_timeout()
    {
        Assert.Throws<ArgumentException>(() => new NsqConfig { MaxInFlight = -5 }.Validate());
        var error = Assert.Throws<ArgumentException>(() =>
            new NsqConfig { HeartbeatInterval = TimeSpan.FromSeconds(90), ReadTimeout = TimeSpan.FromSeconds(60) }.Validate());
        Assert.Contains("HeartbeatInterval 1m30s must be less than ReadTimeout 1m0s", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new NsqConfig { TlsCert = "cert.pem" }.Validate());
        Assert.Throws<ArgumentException>(() => new Consumer("t", "c", new NsqConfig { MaxAttempts = 70000 }));
    }

    [Fact]
    public void Every_go_nsq_option_name_is_known()
    {
        string[] goNsq =
        [
            "dial_timeout", "read_timeout", "write_timeout", "local_addr", "lookupd_poll_interval", "lookupd_poll_jitter",
            "lookupd_poll_timeout", "max_requeue_delay", "default_requeue_delay", "backoff_strategy", "max_backoff_duration",
            "backoff_multiplier", "max_attempts", "low_rdy_idle_timeout", "low_rdy_timeout", "rdy_redistribute_interval",
            "client_id", "hostname", "user_agent", "heartbeat_interval", "sample_rate", "tls_v1", "tls_root_ca_file",
            "tls_insecure_skip_verify", "tls_cert", "tls_key", "tls_min_version", "deflate", "deflate_level", "snappy",
            "output_buffer_size", "output_buffer_timeout", "max_in_flight", "msg_timeout", "auth_secret",
            "skip_lookupd_authorization",
        ];
        foreach (var name in goNsq)
        {
            Assert.Contains(name, NsqConfig.OptionNames);
        }
    }

    [Theory]
    [InlineData("1h2m3.5s", 37_235_000_000)]
    [InlineData("250ms", 2_500_000)]
    [InlineData("1.5h", 54_000_000_000)]
    [InlineData("300us", 3_000)]
    [InlineData("-2s", -20_000_000)]
    [InlineData("0", 0)]
    [InlineData("1500", 15_000_000)]
    public void Go_durations_parse(string text, long ticks)
    {
        Assert.True(GoValueParser.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromTicks(ticks), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5x")]
    [InlineData("s")]
    [InlineData("1..2s")]
    public void Bad_go_durations_are_rejected(string text) => Assert.False(GoValueParser.TryParseDuration(text, out _));

    [Fact]
    public void Go_durations_print_like_time_Duration_String()
    {
        Assert.Equal("1h0m0s", GoValueParser.FormatDuration(TimeSpan.FromHours(1)));
        Assert.Equal("1m30s", GoValueParser.FormatDuration(TimeSpan.FromSeconds(90)));
        Assert.Equal("1.5s", GoValueParser.FormatDuration(TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("100ms", GoValueParser.FormatDuration(TimeSpan.FromMilliseconds(100)));
        Assert.Equal("0s", GoValueParser.FormatDuration(TimeSpan.Zero));
    }
}
