namespace NsqSharp.Client.Config;

/// <summary>The table of go-nsq option names, ranges and defaults (go-nsq <c>config.go</c> struct tags).</summary>
internal static class ConfigOptions
{
    private static readonly Dictionary<string, ConfigOption> ByName = Build();

    public static IReadOnlyList<string> Names { get; } = [.. ByName.Keys.Order(StringComparer.Ordinal)];

    public static ConfigOption Find(string option)
    {
        var key = option.Trim().Replace('-', '_');
        return ByName.TryGetValue(key, out var found)
            ? found
            : throw new ArgumentException($"invalid option {option}", nameof(option));
    }

    public static void Validate(NsqConfig config)
    {
        foreach (var option in ByName.Values)
        {
            var error = option.Check(config);
            if (error != null)
            {
                throw new ArgumentException(error, nameof(config));
            }
        }

        if (config.HeartbeatInterval > config.ReadTimeout)
        {
            throw new ArgumentException(
                $"HeartbeatInterval {GoValueParser.FormatDuration(config.HeartbeatInterval)} must be less than ReadTimeout {GoValueParser.FormatDuration(config.ReadTimeout)}",
                nameof(config));
        }

        if ((config.TlsCert == null) != (config.TlsKey == null))
        {
            throw new ArgumentException("tls_cert and tls_key must be given together", nameof(config));
        }
    }

    private static Dictionary<string, ConfigOption> Build()
    {
        static TimeSpan ms(int value) => TimeSpan.FromMilliseconds(value);
        static TimeSpan s(int value) => TimeSpan.FromSeconds(value);
        static TimeSpan m(int value) => TimeSpan.FromMinutes(value);
        ConfigOption[] options =
        [
            new DurationOption("dial_timeout", c => c.DialTimeout, (c, v) => c.DialTimeout = v),
            new DurationOption("read_timeout", c => c.ReadTimeout, (c, v) => c.ReadTimeout = v, ms(100), m(5)),
            new DurationOption("write_timeout", c => c.WriteTimeout, (c, v) => c.WriteTimeout = v, ms(100), m(5)),
            new StringOption("local_addr", c => c.LocalAddress, (c, v) => c.LocalAddress = Empty(v), ValidateLocalAddress),
            new DurationOption("lookupd_poll_interval", c => c.LookupdPollInterval, (c, v) => c.LookupdPollInterval = v, ms(10), m(5)),
            new FloatOption("lookupd_poll_jitter", c => c.LookupdPollJitter, (c, v) => c.LookupdPollJitter = v, 0, 1),
            new DurationOption("lookupd_poll_timeout", c => c.LookupdPollTimeout, (c, v) => c.LookupdPollTimeout = v),
            new DurationOption("max_requeue_delay", c => c.MaxRequeueDelay, (c, v) => c.MaxRequeueDelay = v, TimeSpan.Zero, m(60)),
            new DurationOption("default_requeue_delay", c => c.DefaultRequeueDelay, (c, v) => c.DefaultRequeueDelay = v, TimeSpan.Zero, m(60)),
            new StringOption("backoff_strategy", c => c.BackoffStrategy.Name,
                (c, v) => c.BackoffStrategy = Backoff.FromName(v!)!,
                v => Backoff.FromName(v) == null ? "unknown strategy (exponential, full_jitter)" : null),
            new DurationOption("max_backoff_duration", c => c.MaxBackoffDuration, (c, v) => c.MaxBackoffDuration = v, TimeSpan.Zero, m(60)),
            new DurationOption("backoff_multiplier", c => c.BackoffMultiplier, (c, v) => c.BackoffMultiplier = v, TimeSpan.Zero, m(60)),
            new IntegerOption("max_attempts", c => c.MaxAttempts, (c, v) => c.MaxAttempts = (int)v, 0, ushort.MaxValue),
            new DurationOption("low_rdy_idle_timeout", c => c.LowRdyIdleTimeout, (c, v) => c.LowRdyIdleTimeout = v, s(1), m(5)),
            new DurationOption("low_rdy_timeout", c => c.LowRdyTimeout, (c, v) => c.LowRdyTimeout = v, s(1), m(5)),
            new DurationOption("rdy_redistribute_interval", c => c.RdyRedistributeInterval, (c, v) => c.RdyRedistributeInterval = v, ms(1), s(5)),
            new StringOption("client_id", c => c.ClientId, (c, v) => c.ClientId = v ?? ""),
            new StringOption("hostname", c => c.Hostname, (c, v) => c.Hostname = v ?? ""),
            new StringOption("user_agent", c => c.UserAgent, (c, v) => c.UserAgent = v ?? ""),
            new DurationOption("heartbeat_interval", c => c.HeartbeatInterval, (c, v) => c.HeartbeatInterval = v),
            new IntegerOption("sample_rate", c => c.SampleRate, (c, v) => c.SampleRate = (int)v, 0, 99),
            new BoolOption("tls_v1", c => c.TlsV1, (c, v) => c.TlsV1 = v),
            new StringOption("tls_root_ca_file", c => c.TlsRootCaFile, (c, v) => c.TlsRootCaFile = Empty(v)),
            new BoolOption("tls_insecure_skip_verify", c => c.TlsInsecureSkipVerify, (c, v) => c.TlsInsecureSkipVerify = v),
            new StringOption("tls_cert", c => c.TlsCert, (c, v) => c.TlsCert = Empty(v)),
            new StringOption("tls_key", c => c.TlsKey, (c, v) => c.TlsKey = Empty(v)),
            new StringOption("tls_min_version", c => c.TlsMinVersion, (c, v) => c.TlsMinVersion = Empty(v),
                v => v.Length == 0 || TlsVersions.IsKnown(v) ? null : "unknown version (tls1.0, tls1.1, tls1.2, tls1.3)"),
            new BoolOption("deflate", c => c.Deflate, (c, v) => c.Deflate = v),
            new IntegerOption("deflate_level", c => c.DeflateLevel, (c, v) => c.DeflateLevel = (int)v, 1, 9),
            new BoolOption("snappy", c => c.Snappy, (c, v) => c.Snappy = v),
            new IntegerOption("output_buffer_size", c => c.OutputBufferSize, (c, v) => c.OutputBufferSize = v),
            new DurationOption("output_buffer_timeout", c => c.OutputBufferTimeout, (c, v) => c.OutputBufferTimeout = v),
            new IntegerOption("max_in_flight", c => c.MaxInFlight, (c, v) => c.MaxInFlight = (int)v, 0, int.MaxValue),
            new DurationOption("msg_timeout", c => c.MsgTimeout, (c, v) => c.MsgTimeout = v, TimeSpan.Zero),
            new StringOption("auth_secret", c => c.AuthSecret, (c, v) => c.AuthSecret = Empty(v)),
            new BoolOption("skip_lookupd_authorization", c => c.LookupdAuthorization, (c, v) => c.LookupdAuthorization = v),
            new IntegerOption("max_frame_size", c => c.MaxFrameSize, (c, v) => c.MaxFrameSize = (int)v, 1024, 1 << 30),
        ];
        return options.ToDictionary(o => o.Name, StringComparer.Ordinal);
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string? ValidateLocalAddress(string value) =>
        value.Length == 0 || NsqAddress.TryParseLocal(value, out _) ? null : "expected ip or ip:port";
}
