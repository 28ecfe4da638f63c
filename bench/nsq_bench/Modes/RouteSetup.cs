using System.Net;
using System.Net.Sockets;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Report;
using NsqSharp.Bench.Wire;

namespace NsqSharp.Bench.Modes;

/// <summary>The first step of every load run: where to connect (lookupd's leaders, or --nsqd-tcp-address), said on stdout.</summary>
internal static class RouteSetup
{
    /// <summary>With lookupd: resolves every topic (bounded) and prints "[name] topic ... leaders ..." lines; a LookupdException says why not.</summary>
    public static async Task<Routes> ResolveAsync(LookupdSettings lookupd, string address, IReadOnlyList<string> topics, string name)
    {
        if (!lookupd.Enabled)
        {
            return Routes.Standalone(address, topics);
        }

        var routes = await RouteResolver.ResolveAsync(lookupd, topics, RouteResolver.DefaultTimeout, CancellationToken.None).ConfigureAwait(false);
        foreach (var line in routes.Describe())
        {
            Console.WriteLine($"[{name}] {line}");
        }

        return routes;
    }

    /// <summary>Records the routes in the result (its target becomes the addresses used).</summary>
    public static void Apply(BenchResult result, Routes routes)
    {
        if (routes.FromLookupd)
        {
            result.Routes = routes;
            result.NsqdAddresses = routes.LeaderAddresses;
            result.Target = string.Join(",", routes.LeaderAddresses);
        }
    }

    /// <summary>An address from lookupd or the flags as an endpoint; a name that does not resolve is the run's error, not a usage error.</summary>
    public static IPEndPoint Endpoint(string address)
    {
        try
        {
            return NsqEndpoint.Parse(address);
        }
        catch (Exception e) when (e is FormatException or SocketException)
        {
            throw new BrokerErrorException($"cannot use nsqd address {address}: {e.Message}");
        }
    }
}
