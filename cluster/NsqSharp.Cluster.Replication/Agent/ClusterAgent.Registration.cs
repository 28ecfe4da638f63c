using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd;

namespace NsqSharp.Cluster.Replication.Agent;

// The node's registration: its key under /nodes/<id>, put under a lease the store keeps alive. A lost lease (etcd
// unreachable for a TTL, or the node paused that long) means the controller may already have failed the node's
// partitions over: the node registers again under a new lease as soon as it can, and its replicas follow whatever
// the state now says. A graceful stop revokes the lease, so the controller fails over at once instead of after a TTL.
public sealed partial class ClusterAgent
{
    private async Task KeepRegisteredAsync(NsqdServer server, CancellationToken ct)
    {
        var registration = new NodeRegistration(NodeId, server.Options.BroadcastAddress, server.BroadcastTcpPort, server.BroadcastHttpPort,
            ProtocolConstants.CompatibleVersion);
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            IStoreLease? lease = null;
            try
            {
                lease = await _store.GrantLeaseAsync(_options.LeaseTtl, ct).ConfigureAwait(false);
                await _writer.RegisterNodeAsync(registration, lease, ct).ConfigureAwait(false);
                if (failures > 0 || Joined)
                {
                    _logger.LogInformation("cluster: node {Node} registered again (lease {Lease:x})", NodeId, lease.Id);
                }

                failures = 0;
                _joined.TrySetResult();
                using var lost = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.Lost);
                await Task.Delay(Timeout.Infinite, lost.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("cluster: node {Node} lost its registration lease; the controller may move its partitions; registering again", NodeId);
            }
            catch (Exception e) when (e is MetadataStoreUnavailableException or Grpc.Core.RpcException or HttpRequestException)
            {
                if (failures++ % 10 == 0)
                {
                    _logger.LogError("cluster: cannot register node {Node} in etcd: {Error}; retrying", NodeId, e.Message);
                }

                await DelayAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            finally
            {
                if (lease is not null)
                {
                    if (ct.IsCancellationRequested)
                    {
                        await RevokeQuietlyAsync(lease).ConfigureAwait(false);
                    }

                    await lease.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private async Task RevokeQuietlyAsync(IStoreLease lease)
    {
        try
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await lease.RevokeAsync(bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MetadataStoreUnavailableException or Grpc.Core.RpcException or OperationCanceledException or HttpRequestException)
        {
            _logger.LogWarning("cluster: could not revoke node {Node}'s lease at shutdown ({Error}); it expires in {Ttl}", NodeId, e.Message, lease.Ttl);
        }
    }
}
