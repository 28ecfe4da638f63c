using NsqSharp.Chaos.Lab;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>
/// A test that needs the network lab (root, ip, iptables, network namespaces): skipped with the reason where they are
/// missing, except under CI (CI=true), where that fails the run instead.
/// </summary>
public sealed class LabFactAttribute : FactAttribute
{
    private static readonly Lazy<LabSupport> Support = new(() => NetworkLab.ProbeSupportAsync("nsqct-probe-").GetAwaiter().GetResult());

    public LabFactAttribute()
    {
        if (!Support.Value.Namespaces && !TestEnvironment.UnderCi)
        {
            Skip = $"the network lab cannot be made here: {Support.Value.Reason}";
        }
    }

    /// <summary>Whether the lab can be made here.</summary>
    public static bool Supported => Support.Value.Namespaces;

    /// <summary>Under CI a missing lab fails the test (with the reason) instead of skipping it.</summary>
    public static void RequireSupport()
    {
        if (!Support.Value.Namespaces)
        {
            Assert.Fail($"the network lab cannot be made here: {Support.Value.Reason}");
        }
    }
}

/// <summary>A lab test that also runs etcd (Debian's etcd-server) and the built nsqd and nsqlookupd.</summary>
public sealed class LabClusterFactAttribute : FactAttribute
{
    public LabClusterFactAttribute()
    {
        Skip = new LabFactAttribute().Skip ?? new EtcdFactAttribute().Skip;
    }
}
