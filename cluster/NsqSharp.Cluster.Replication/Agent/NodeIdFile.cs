using System.Text;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication.Agent;

/// <summary>
/// The node id kept in the data directory (<c>cluster-node-id</c>), so a node keeps its identity (and with it its
/// replicas) across restarts even when its address changes. Like Kafka's meta.properties: a configured id that
/// differs from the stored one is an error, not a silent rename (the node would claim another node's replicas).
/// </summary>
public static class NodeIdFile
{
    public const string FileName = "cluster-node-id";

    /// <summary>Node ids are used in etcd keys and JSON: 1-64 of [a-zA-Z0-9._:-].</summary>
    public static bool IsValid(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':');

    /// <summary>The default id: the broadcast address and TCP port (stable as long as the node keeps its address).</summary>
    public static string Derive(string broadcastAddress, int tcpPort)
    {
        var id = new string([.. broadcastAddress.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_')]) + ":" + tcpPort;
        return IsValid(id) ? id : throw new FormatException($"cannot derive a node id from {broadcastAddress}:{tcpPort}; give --node-id");
    }

    /// <summary>Resolves the id (configured, else stored, else derived) and stores it when it was not stored yet.</summary>
    /// <exception cref="FormatException">An invalid id, or a configured id that differs from the stored one.</exception>
    public static string Resolve(string dataPath, string? configured, Func<string> derive)
    {
        var path = Path.Combine(dataPath, FileName);
        string? stored = File.Exists(path) ? File.ReadAllText(path, Encoding.UTF8).Trim() : null;
        if (stored is not null && !IsValid(stored))
        {
            throw new FormatException($"{path} holds an invalid node id '{stored}'");
        }

        if (configured is not null)
        {
            if (!IsValid(configured))
            {
                throw new FormatException($"invalid --node-id '{configured}' (1-64 of [a-zA-Z0-9._:-])");
            }

            if (stored is not null && stored != configured)
            {
                throw new FormatException($"--node-id {configured} differs from the id {stored} stored in {path} (the data belongs to node {stored})");
            }
        }

        var id = configured ?? stored ?? derive();
        if (stored is null)
        {
            Directory.CreateDirectory(dataPath);
            AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(id + "\n"));
        }

        return id;
    }
}
