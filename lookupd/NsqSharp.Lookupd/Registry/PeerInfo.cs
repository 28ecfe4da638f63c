namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// What an nsqd told us in IDENTIFY, plus the time of its last command. One instance per TCP
/// connection, shared by every registration that connection makes (as upstream's *PeerInfo).
/// </summary>
public sealed class PeerInfo
{
    private long _lastUpdateUnixNanos;

    public PeerInfo(string id)
    {
        Id = id;
        RemoteAddress = id;
    }

    /// <summary>Identity in the registry: the connection's remote address.</summary>
    public string Id { get; }

    public string RemoteAddress { get; set; }
    public string Hostname { get; set; } = "";
    public string BroadcastAddress { get; set; } = "";
    public int TcpPort { get; set; }
    public int HttpPort { get; set; }
    public string Version { get; set; } = "";
    public string TopologyZone { get; set; } = "";
    public string TopologyRegion { get; set; } = "";

    /// <summary>Unix time in ns of IDENTIFY or the last PING (upstream's lastUpdate).</summary>
    public long LastUpdateUnixNanos
    {
        get => Interlocked.Read(ref _lastUpdateUnixNanos);
        set => Interlocked.Exchange(ref _lastUpdateUnixNanos, value);
    }

    /// <summary>"broadcast_address:http_port", how /topic/tombstone names a node.</summary>
    public string NodeName => BroadcastAddress + ":" + HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override string ToString() => $"{BroadcastAddress} [{TcpPort}, {HttpPort}]";
}
