using System.Net;
using System.Net.NetworkInformation;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Modes;

/// <summary>Which process to sample: --broker-pid, else whoever listens on the target port when it is local.</summary>
internal static class BrokerLocator
{
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
