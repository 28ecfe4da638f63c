using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.PowerLoss;

/// <summary>
/// A power-loss test: it needs root, /dev/fuse and Debian's python3-fusepy. Skipped with the reason where one is
/// missing, except under CI (CI=true), whose .ci/run installs fusepy and runs as root: there it fails the run.
/// </summary>
public sealed class PowerLossFactAttribute : FactAttribute
{
    public PowerLossFactAttribute()
    {
        if (!TestEnvironment.UnderCi && PowerLossDisk.Unavailable() is { } reason)
        {
            Skip = reason;
        }
    }
}
