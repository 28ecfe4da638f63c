using NsqSharp.Testing;

namespace NsqSharp.Client.Tests.Integration;

/// <summary>
/// The servers the integration tests run against: ours, or upstream nsq 1.3.0's when NSQSHARP_TEST_NSQD /
/// NSQSHARP_TEST_NSQLOOKUPD point at its binaries (the harness starts them with upstream's flag names).
/// </summary>
public static class TestServers
{
    public static string? NsqdPath => Find("NSQSHARP_TEST_NSQD", "nsqd");

    public static string? NsqlookupdPath => Find("NSQSHARP_TEST_NSQLOOKUPD", "nsqlookupd");

    public static Task<NsqdProcess> StartNsqdAsync(params string[] extraArgs) => NsqdProcess.StartAsync(extraArgs, executable: NsqdPath!);

    public static Task<NsqlookupdProcess> StartNsqlookupdAsync() => NsqlookupdProcess.StartAsync([], NsqlookupdPath!);

    private static string? Find(string variable, string name)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } overridden)
        {
            return overridden;
        }

        try
        {
            return RepoPaths.Executable(name);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}

/// <summary>
/// A test that needs a real nsqd; skipped (with the reason) when none is built, except under CI
/// (CI=true), where a missing executable must fail the run rather than quietly skip it.
/// </summary>
public sealed class NsqdFactAttribute : FactAttribute
{
    public NsqdFactAttribute()
    {
        if (TestServers.NsqdPath == null && !TestEnvironment.UnderCi)
        {
            Skip = "nsqd is not built (dotnet build NsqSharp.sln) and NSQSHARP_TEST_NSQD is not set";
        }
    }
}

/// <summary>A test that needs real nsqd and nsqlookupd processes.</summary>
public sealed class NsqlookupdFactAttribute : FactAttribute
{
    public NsqlookupdFactAttribute()
    {
        if ((TestServers.NsqdPath == null || TestServers.NsqlookupdPath == null) && !TestEnvironment.UnderCi)
        {
            Skip = "nsqd/nsqlookupd are not built and NSQSHARP_TEST_NSQD/NSQSHARP_TEST_NSQLOOKUPD are not set";
        }
    }
}
