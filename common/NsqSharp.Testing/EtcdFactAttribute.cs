using Xunit;

namespace NsqSharp.Testing;

/// <summary>
/// A test that needs etcd (Debian's etcd-server): skipped with the reason where it is not installed, except under
/// CI (CI=true), whose .ci/run installs it: there a missing etcd fails the run.
/// </summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (EtcdProcess.Executable == null && !TestEnvironment.UnderCi)
        {
            Skip = "etcd is not installed (apt-get install etcd-server)";
        }
    }
}
