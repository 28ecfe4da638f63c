namespace NsqSharp.Client;

/// <summary>
/// Computes how long a consumer pauses (all connections at RDY 0) at a given backoff level.
/// Same contract as go-nsq's <c>BackoffStrategy</c>; select a built-in one by name with
/// <c>config.Set("backoff_strategy", "exponential" | "full_jitter")</c>.
/// </summary>
public interface IBackoffStrategy
{
    /// <summary>The name used by the <c>backoff_strategy</c> option.</summary>
    string Name { get; }

    /// <summary>Returns the backoff duration for <paramref name="attempt"/> (1 = first level).</summary>
    /// <param name="attempt">Backoff level, starting at 1.</param>
    /// <param name="multiplier">The configured <c>backoff_multiplier</c>.</param>
    TimeSpan Calculate(int attempt, TimeSpan multiplier);
}

/// <summary>Exponential backoff (go-nsq default): <c>multiplier × 2^attempt</c>.</summary>
public sealed class ExponentialBackoffStrategy : IBackoffStrategy
{
    /// <summary>The shared instance (the strategy is stateless).</summary>
    public static ExponentialBackoffStrategy Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "exponential";

    /// <inheritdoc />
    public TimeSpan Calculate(int attempt, TimeSpan multiplier) => Backoff.Exponential(attempt, multiplier);
}

/// <summary>
/// "Full jitter" backoff (AWS architecture blog, as in go-nsq): a uniformly random duration in
/// <c>[0, multiplier × 2^attempt)</c>, which spreads retries of many consumers apart.
/// </summary>
public sealed class FullJitterBackoffStrategy : IBackoffStrategy
{
    private readonly Random _random;
    private readonly object _gate = new();

    /// <summary>Creates the strategy; pass a seeded <see cref="Random"/> for reproducible tests.</summary>
    public FullJitterBackoffStrategy(Random? random = null)
    {
        _random = random ?? Random.Shared;
    }

    /// <summary>A shared instance backed by <see cref="Random.Shared"/>.</summary>
    public static FullJitterBackoffStrategy Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "full_jitter";

    /// <inheritdoc />
    public TimeSpan Calculate(int attempt, TimeSpan multiplier)
    {
        var ceiling = Backoff.Exponential(attempt, multiplier).Ticks;
        if (ceiling <= 0)
        {
            return TimeSpan.Zero;
        }

        if (ReferenceEquals(_random, Random.Shared))
        {
            return TimeSpan.FromTicks(Random.Shared.NextInt64(ceiling));
        }

        lock (_gate)
        {
            // a caller-supplied Random is not thread-safe
            return TimeSpan.FromTicks(_random.NextInt64(ceiling));
        }
    }
}

internal static class Backoff
{
    /// <summary><c>multiplier × 2^attempt</c>, saturating instead of overflowing.</summary>
    public static TimeSpan Exponential(int attempt, TimeSpan multiplier)
    {
        if (multiplier <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var shift = Math.Clamp(attempt, 0, 62);
        var ticks = multiplier.Ticks;
        return ticks > (TimeSpan.MaxValue.Ticks >> shift) ? TimeSpan.MaxValue : TimeSpan.FromTicks(ticks << shift);
    }

    /// <summary>Resolves a <c>backoff_strategy</c> option value.</summary>
    public static IBackoffStrategy? FromName(string name) => name.Trim() switch
    {
        "exponential" => ExponentialBackoffStrategy.Instance,
        "full_jitter" => FullJitterBackoffStrategy.Instance,
        _ => null,
    };
}
