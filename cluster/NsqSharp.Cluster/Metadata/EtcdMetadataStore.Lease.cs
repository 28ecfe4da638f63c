using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Cluster.Metadata;

public sealed partial class EtcdMetadataStore
{
    public async Task<IStoreLease> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, TimeSpan.FromSeconds(1));
        var seconds = (long)Math.Ceiling(ttl.TotalSeconds);
        var response = await CallAsync(
            (deadline, ct) => _client.LeaseGrantAsync(new LeaseGrantRequest { TTL = seconds }, deadline: deadline, cancellationToken: ct),
            "lease grant", cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new MetadataStoreUnavailableException("etcd lease grant: " + response.Error);
        }

        return new EtcdLease(this, response.ID, TimeSpan.FromSeconds(response.TTL));
    }

    /// <summary>
    /// Keeps one lease alive over a keep-alive stream, sending every TTL/3. Lost when etcd answers TTL 0 (expired) or
    /// when nothing succeeded for a whole TTL since the last success (etcd may already have expired it: assume so).
    /// </summary>
    private sealed class EtcdLease : IStoreLease
    {
        private readonly EtcdMetadataStore _store;
        private readonly CancellationTokenSource _lost = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _keepAlive;

        public EtcdLease(EtcdMetadataStore store, long id, TimeSpan ttl)
        {
            _store = store;
            Id = id;
            Ttl = ttl;
            _keepAlive = Task.Run(KeepAliveAsync);
        }

        public long Id { get; }

        public TimeSpan Ttl { get; }

        public CancellationToken Lost => _lost.Token;

        public async Task RevokeAsync(CancellationToken cancellationToken = default)
        {
            await StopAsync().ConfigureAwait(false);
            await _store.CallAsync(
                (deadline, ct) => _store._client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = Id }, deadline: deadline, cancellationToken: ct),
                "lease revoke", cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync().ConfigureAwait(false);
        }

        private async Task StopAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }

            await _keepAlive.ConfigureAwait(false);
        }

        private async Task KeepAliveAsync()
        {
            var time = _store._time;
            var interval = Ttl / 3;
            var lastSuccess = time.GetTimestamp();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _store._disposed.Token);
            var ct = linked.Token;
            while (!ct.IsCancellationRequested && !_lost.IsCancellationRequested)
            {
                try
                {
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    // A stream that stops answering must not outlive the lease: cut it at the lease's deadline.
                    attempt.CancelAfter(TimeSpan.FromMilliseconds(Math.Max(1, (Ttl - time.GetElapsedTime(lastSuccess)).TotalMilliseconds)));
                    using var call = _store._client.GetConnection().LeaseClient.LeaseKeepAlive(new CallOptions(cancellationToken: attempt.Token));
                    while (true)
                    {
                        await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Id }).ConfigureAwait(false);
                        if (!await call.ResponseStream.MoveNext(attempt.Token).ConfigureAwait(false))
                        {
                            break;
                        }

                        if (call.ResponseStream.Current.TTL <= 0)
                        {
                            _store._logger.LogWarning("etcd lease {Lease:x} expired", Id);
                            await _lost.CancelAsync().ConfigureAwait(false);
                            return;
                        }

                        lastSuccess = time.GetTimestamp();
                        attempt.CancelAfter(Ttl + TimeSpan.FromMilliseconds(1));
                        await Task.Delay(interval, time, ct).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested || _store._disposed.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is RpcException or OperationCanceledException or HttpRequestException or InvalidOperationException or IOException)
                {
                    _store._logger.LogDebug(e, "etcd lease {Lease:x} keep-alive failed", Id);
                }

                if (time.GetElapsedTime(lastSuccess) >= Ttl)
                {
                    _store._logger.LogWarning("etcd lease {Lease:x} lost: no keep-alive succeeded for {Ttl}", Id, Ttl);
                    await _lost.CancelAsync().ConfigureAwait(false);
                    return;
                }

                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
