namespace NsqSharp.Cluster.Coordination;

/// <summary>
/// The etcd key layout of one cluster (docs/OPERATIONS.md, "etcd keys"). Everything lives under /nsqsharp/&lt;cluster&gt;/
/// so several clusters can share one etcd. Topic and channel names are NSQ names ([.a-zA-Z0-9_-], optional
/// #ephemeral), which contain no '/', so they are used as they are.
/// </summary>
public sealed class ClusterKeys(string clusterName)
{
    public string ClusterName { get; } = ValidName(clusterName);

    public string Root => $"/nsqsharp/{ClusterName}/";

    /// <summary>Live nodes: one leased key per nsqd (its registration).</summary>
    public string NodesPrefix => Root + "nodes/";

    public string Node(string nodeId) => NodesPrefix + nodeId;

    /// <summary>The elected controller (a leased key; its create revision fences the controller's writes).</summary>
    public string Controller => Root + "controller";

    /// <summary>Topics: the config key, and under it partitions and channels.</summary>
    public string TopicsPrefix => Root + "topics/";

    public string Topic(string topic) => TopicsPrefix + topic + "/config";

    public string TopicPrefix(string topic) => TopicsPrefix + topic + "/";

    public string Partition(string topic, int partition) => TopicsPrefix + topic + "/partitions/" + partition.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string Channel(string topic, string channel) => TopicsPrefix + topic + "/channels/" + channel;

    private static string ValidName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new FormatException($"invalid cluster name '{name}' (1-64 of [a-zA-Z0-9._-])");
        }

        return name;
    }
}
