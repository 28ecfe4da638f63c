using System.Net;
using System.Net.NetworkInformation;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Modes;

/// <summary>Which process to sample: --broker-pid, else whoever listens on the target port when it is local.</summary>
internal static class BrokerLocator
{
    /// <summary>--broker-pid alone when given; else the local processes listening on these nsqd addresses, each once.</summary>
    public static List<ProcessSampler> LocateAll(int brokerPid, IEnumerable<string> addresses)
    {
        if (brokerPid != 0)
        {
            return Locate(brokerPid, new IPEndPoint(IPAddress.Loopback, 0)) is { } given ? [given] : [];
        }

        var found = new List<ProcessSampler>();
        foreach (var address in addresses)
        {
            if (TryParse(address) is { } endpoint && Locate(0, endpoint) is { } sampler && !found.Exists(s => s.Pid == sampler.Pid))
            {
                found.Add(sampler);
            }
        }

        return found;
    }

    /// <summary>The process listening on a local address's port (null: remote, not found, or not a host:port).</summary>
    public static int? LocalPid(string address) =>
        TryParse(address) is { } endpoint && IsLocal(endpoint.Address) ? ListeningProcessFinder.FindPid(endpoint.Port) : null;

    public static ProcessSampler? Locate(int brokerPid, IPEndPoint endpoint)
    {
        if (brokerPid < 0)
        {
            return null; // sampling disabled (selftest: the "broker" is this process)
        }

        if (brokerPid > 0)
        {
            return File.Exists($"/proc/{brokerPid}/stat") ? new ProcessSampler(brokerPid) : null;
        }

        if (!IsLocal(endpoint.Address))
        {
            return null;
        }

        var pid = ListeningProcessFinder.FindPid(endpoint.Port);
        return pid is { } found && found != Environment.ProcessId ? new ProcessSampler(found) : null;
    }

    private static IPEndPoint? TryParse(string address)
    {
        try
        {
            return Wire.NsqEndpoint.Parse(address);
        }
        catch (Exception e) when (e is FormatException or System.Net.Sockets.SocketException)
        {
            return null;
        }
    }

    private static bool IsLocal(IPAddress address)
    {
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.Equals(address))
                    {
                        return true;
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            // cannot tell: treat as remote
        }

        return false;
    }
}
