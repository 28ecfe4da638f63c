namespace NsqSharp.Nsqd.Lookup;

/// <summary>One configured nsqlookupd and whether we are registered with it right now.</summary>
/// <param name="Address">The --lookupd-tcp-address as configured.</param>
/// <param name="Connected">True between a successful IDENTIFY and the connection's end.</param>
public sealed record LookupPeerStatus(string Address, bool Connected)
{
    /// <summary>"broadcast_address:http_port" the lookupd announced in its IDENTIFY response, once known.</summary>
    public string? HttpAddress { get; init; }
}
