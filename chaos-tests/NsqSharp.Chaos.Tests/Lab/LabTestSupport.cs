using System.Net.Sockets;
using NsqSharp.Chaos.Lab;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>Connectivity checks for the lab tests, from inside its namespaces (the test process is in the host's).</summary>
internal static class LabProbe
{
    public static readonly TimeSpan Blocked = TimeSpan.FromMilliseconds(700);

    public static LabNetworkAccess In(NetworkLab lab, string member) => LabNetworkAccess.Via(lab.Member(member).Namespace);

    /// <summary>Whether `from` can open a TCP connection to a listener of `to` (accepted within the bound).</summary>
    public static async Task<bool> TcpAsync(NetworkLab lab, string from, string to, TimeSpan? bound = null)
    {
        var address = lab.Member(to).Address;
        using var listener = In(lab, to).Listen(address, 0);
        var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        return await In(lab, from).CanConnectAsync(address, port, bound ?? Blocked);
    }

    /// <summary>Whether a UDP datagram from `from` arrives at `to` (within the bound): one direction only, no reply.</summary>
    public static async Task<bool> UdpAsync(NetworkLab lab, string from, string to, TimeSpan? bound = null)
    {
        using var receiver = In(lab, to).BindUdp(lab.Member(to).Address, 0);
        using var sender = In(lab, from).BindUdp(lab.Member(from).Address, 0);
        var target = receiver.LocalEndPoint!;
        using var cts = new CancellationTokenSource(bound ?? Blocked);
        var buffer = new byte[16];
        var receive = receiver.ReceiveAsync(buffer, SocketFlags.None, cts.Token).AsTask();
        try
        {
            while (!receive.IsCompleted && !cts.IsCancellationRequested)
            {
                await sender.SendToAsync(new byte[] { 1 }, SocketFlags.None, target, cts.Token);
                await Task.WhenAny(receive, Task.Delay(50, CancellationToken.None));
            }

            return await receive > 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
