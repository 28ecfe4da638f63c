using Xunit;

namespace NsqSharp.Bench.Tests.Support;

/// <summary>
/// Tests that start nsq_bench (and nsqd) processes run one at a time: a selftest saturates every core
/// and would distort a concurrent latency run on a small machine.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProcessCollection
{
    public const string Name = "nsq_bench processes";
}
