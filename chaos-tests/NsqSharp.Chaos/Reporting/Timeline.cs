namespace NsqSharp.Chaos.Reporting;

/// <summary>
/// What the report draws, all in seconds from the earliest history line: acknowledged enqueues and their
/// latency per 1 s bucket, the faults, and the throughput around each fault.
/// </summary>
public sealed record Timeline(
    double DurationSeconds,
    IReadOnlyList<TimelineBucket> Buckets,
    IReadOnlyList<FaultWindow> Faults,
    IReadOnlyList<FaultThroughput> Recovery);

/// <summary>One second [Second, Second + 1): enqueues acknowledged in it, and their invoke-to-ok latency (null when none).</summary>
public readonly record struct TimelineBucket(int Second, int Acked, double? AckP50Ms, double? AckMaxMs);

/// <summary>A fault from its nemesis start line to its stop line; <see cref="StopSeconds"/> is null if it never stopped.</summary>
public sealed record FaultWindow(string Label, double StartSeconds, double? StopSeconds);

/// <summary>
/// Acknowledged enqueues per second in the <see cref="WindowSeconds"/> before the fault, during it, and in
/// the <see cref="WindowSeconds"/> after it. Null where the window falls outside the history.
/// </summary>
public sealed record FaultThroughput(FaultWindow Fault, double WindowSeconds, double? Before, double? During, double? After);
