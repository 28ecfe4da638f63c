using System.Runtime.CompilerServices;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Cluster.Metadata;

public sealed partial class EtcdMetadataStore
{
    private static readonly TimeSpan WatchRetryFirst = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan WatchRetryMax = TimeSpan.FromSeconds(2);

    public async IAsyncEnumerable<WatchBatch> WatchPrefixAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterRevision);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        var ct = linked.Token;
        var seen = afterRevision;
        var retry = WatchRetryFirst;
        while (!ct.IsCancellationRequested)
        {
            var call = _client.GetConnection().WatchClient.Watch(new CallOptions(cancellationToken: ct));
            try
            {
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = Bytes(prefix),
                        RangeEnd = PrefixEnd(prefix),
                        StartRevision = seen + 1,
                        ProgressNotify = true, // idle watchers still learn the revision, so a resume rarely meets compaction
                    },
                }, ct).ConfigureAwait(false);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                call.Dispose(); // cancelled while starting: gRPC reports that as an RpcException (Cancelled)
                break;
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or InvalidOperationException or IOException)
            {
                call.Dispose();
                _logger.LogDebug(e, "etcd watch of {Prefix} could not start; retrying", prefix);
                await DelayQuietlyAsync(retry, ct).ConfigureAwait(false);
                retry = Next(retry);
                continue;
            }

            while (true)
            {
                WatchResponse response;
                try
                {
                    if (!await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                    {
                        break;
                    }

                    response = call.ResponseStream.Current;
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is RpcException or HttpRequestException or InvalidOperationException or IOException)
                {
                    _logger.LogDebug(e, "etcd watch of {Prefix} broke at revision {Revision}; resuming", prefix, seen);
                    break;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (RpcException) when (ct.IsCancellationRequested)
                {
                    break;
                }

                if (response.CompactRevision > 0 || response.Canceled)
                {
                    call.Dispose();
                    if (response.CompactRevision > 0)
                    {
                        throw new WatchCompactedException(response.CompactRevision);
                    }

                    throw new MetadataStoreUnavailableException($"etcd cancelled the watch of {prefix}: {response.CancelReason}");
                }

                retry = WatchRetryFirst;
                if (response.Created && response.Events.Count == 0)
                {
                    continue;
                }

                var events = new List<WatchEvent>(response.Events.Count);
                foreach (var e in response.Events)
                {
                    if (e.Kv.ModRevision <= seen)
                    {
                        continue; // a resumed stream never repeats, but be safe: each change once
                    }

                    events.Add(new WatchEvent(e.Type == Mvccpb.Event.Types.EventType.Put ? WatchEventKind.Put : WatchEventKind.Delete,
                        e.Kv.Key.ToStringUtf8(), e.Kv.Value.Memory, e.Kv.ModRevision, e.Kv.CreateRevision));
                }

                // Events of one response share the revision of the txn that made them; the header says how far the
                // store is, which is how far this watcher has seen everything under the prefix.
                var revision = Math.Max(response.Header.Revision, events.Count > 0 ? events[^1].Revision : 0);
                if (events.Count == 0 && revision <= seen)
                {
                    continue;
                }

                seen = Math.Max(seen, revision);
                yield return new WatchBatch(events, seen);
            }

            call.Dispose();
            if (ct.IsCancellationRequested)
            {
                break;
            }

            await DelayQuietlyAsync(retry, ct).ConfigureAwait(false);
            retry = Next(retry);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private static TimeSpan Next(TimeSpan retry) => retry * 2 > WatchRetryMax ? WatchRetryMax : retry * 2;

    private async Task DelayQuietlyAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, _time, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
