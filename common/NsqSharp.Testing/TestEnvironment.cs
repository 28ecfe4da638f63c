namespace NsqSharp.Testing;

/// <summary>Facts about where the tests run.</summary>
public static class TestEnvironment
{
    /// <summary>CI=true (.ci/run): tools a test needs are installed there, so a missing one fails instead of skipping.</summary>
    public static bool UnderCi { get; } = Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci != "false";
}
