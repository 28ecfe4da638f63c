namespace NsqSharp.Nsqd.Lookup;

/// <summary>How this nsqd introduces itself to every nsqlookupd (the IDENTIFY body).</summary>
/// <param name="BroadcastAddress">Address consumers should connect to (--broadcast-address).</param>
/// <param name="TcpPort">Broadcast TCP port (--broadcast-tcp-port or the bound one).</param>
/// <param name="HttpPort">Broadcast HTTP port (--broadcast-http-port or the bound one).</param>
/// <param name="Hostname">OS hostname.</param>
/// <param name="Version">Version reported on the wire, e.g. "1.3.0".</param>
public sealed record NodeIdentity(string BroadcastAddress, int TcpPort, int HttpPort, string Hostname, string Version)
{
    public string TopologyZone { get; init; } = "";

    public string TopologyRegion { get; init; } = "";
}
