using System.Collections.Concurrent;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>Partition roles set by the test (what the cluster agent gives the broker in cluster mode).</summary>
internal sealed class FakeRoles : IPartitionRoles
{
    private readonly ConcurrentDictionary<(string, int), bool> _leads = new();

    public void Lead(string topic, int partition) => _leads[(topic, partition)] = true;

    public void Follow(string topic, int partition) => _leads[(topic, partition)] = false;

    public bool IsLeader(string topic, int partition) => _leads.GetValueOrDefault((topic, partition));

    public bool CanAcceptPublish(string topic, int partition) => IsLeader(topic, partition);
}
