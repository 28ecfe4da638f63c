using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NsqSharp.Cluster.Metadata;

/// <summary>
/// <see cref="IMetadataStore"/> on etcd v3 through dotnet-etcd (gRPC over plain http). Unary calls carry a deadline
/// so a dead etcd turns into <see cref="MetadataStoreUnavailableException"/> instead of a hang. Split by concern:
/// key-value and transactions here, leases in EtcdMetadataStore.Lease.cs, watches in EtcdMetadataStore.Watch.cs.
/// </summary>
public sealed partial class EtcdMetadataStore : IMetadataStore
{
    private readonly EtcdClient _client;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _disposed = new();

    /// <param name="endpoints">Comma-separated client URLs, e.g. http://127.0.0.1:2379,http://127.0.0.1:22379.</param>
    /// <param name="requestTimeout">Deadline of each unary call (default 5 s).</param>
    /// <param name="logger">Where watch and lease trouble is logged.</param>
    /// <param name="time">Clock for lease keep-alives and retry delays.</param>
    public EtcdMetadataStore(string endpoints, TimeSpan? requestTimeout = null, ILogger? logger = null, TimeProvider? time = null)
    {
        Endpoints = ParseEndpoints(endpoints);
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(5);
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        // gRPC backs reconnects off up to 2 minutes by default: after an etcd outage the cluster would stay blind that
        // long (and node leases expire meanwhile). Reconnect within a second of etcd being back instead.
        _client = new EtcdClient(string.Join(',', Endpoints.Select(e => e.ToString().TrimEnd('/'))), configureChannelOptions: options =>
        {
            options.InitialReconnectBackoff = TimeSpan.FromMilliseconds(100);
            options.MaxReconnectBackoff = TimeSpan.FromSeconds(1);
        });
    }

    public IReadOnlyList<Uri> Endpoints { get; }

    public TimeSpan RequestTimeout { get; }

    /// <summary>Validates an --etcd-endpoints value: absolute http(s) URLs with host and port, comma-separated.</summary>
    public static IReadOnlyList<Uri> ParseEndpoints(string endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var list = new List<Uri>();
        foreach (var part in endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || string.IsNullOrEmpty(uri.Host) || uri.IsDefaultPort && !part.Contains(":" + uri.Port, StringComparison.Ordinal)
                || uri.AbsolutePath != "/")
            {
                throw new FormatException($"invalid etcd endpoint '{part}' (want http://host:port)");
            }

            list.Add(uri);
        }

        return list.Count > 0 ? list : throw new FormatException("no etcd endpoint given");
    }

    public Task<ReadResult> GetAsync(string key, CancellationToken cancellationToken = default) =>
        CallAsync(async (deadline, ct) =>
        {
            var response = await _client.GetAsync(new RangeRequest { Key = Bytes(key) }, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            return new ReadResult(response.Kvs.Select(ToStored).ToArray(), response.Header.Revision);
        }, "get " + key, cancellationToken);

    public Task<ReadResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken = default) =>
        CallAsync(async (deadline, ct) =>
        {
            var request = new RangeRequest { Key = Bytes(prefix), RangeEnd = PrefixEnd(prefix), SortOrder = RangeRequest.Types.SortOrder.Ascend, SortTarget = RangeRequest.Types.SortTarget.Key };
            var response = await _client.GetAsync(request, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            return new ReadResult(response.Kvs.Select(ToStored).ToArray(), response.Header.Revision);
        }, "get prefix " + prefix, cancellationToken);

    public Task<long> PutAsync(string key, ReadOnlyMemory<byte> value, long leaseId = 0, CancellationToken cancellationToken = default) =>
        CallAsync(async (deadline, ct) =>
        {
            var response = await _client.PutAsync(new PutRequest { Key = Bytes(key), Value = ByteString.CopyFrom(value.Span), Lease = leaseId }, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            return response.Header.Revision;
        }, "put " + key, cancellationToken);

    public Task<long> DeleteAsync(string key, bool prefix = false, CancellationToken cancellationToken = default) =>
        CallAsync(async (deadline, ct) =>
        {
            var request = new DeleteRangeRequest { Key = Bytes(key) };
            if (prefix)
            {
                request.RangeEnd = PrefixEnd(key);
            }

            var response = await _client.DeleteAsync(request, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            return response.Header.Revision;
        }, "delete " + key, cancellationToken);

    public Task<TransactionResult> TransactAsync(Transaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var request = new TxnRequest();
        foreach (var condition in transaction.Conditions)
        {
            request.Compare.Add(ToCompare(condition));
        }

        request.Success.AddRange(transaction.OnSuccess.Select(ToRequestOp));
        request.Failure.AddRange(transaction.OnFailure.Select(ToRequestOp));
        return CallAsync(async (deadline, ct) =>
        {
            var response = await _client.TransactionAsync(request, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            var reads = response.Responses
                .Where(r => r.ResponseCase == ResponseOp.ResponseOneofCase.ResponseRange)
                .Select(r => r.ResponseRange.Kvs.Count > 0 ? ToStored(r.ResponseRange.Kvs[0]) : null)
                .ToArray();
            return new TransactionResult(response.Succeeded, response.Header.Revision, reads);
        }, "txn", cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        _client.Dispose();
        _disposed.Dispose();
    }

    /// <summary>Runs one unary call with the request deadline, mapping transport failures to Unavailable.</summary>
    private async Task<T> CallAsync<T>(Func<DateTime, CancellationToken, Task<T>> call, string what, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        try
        {
            return await call(DateTime.UtcNow + RequestTimeout, linked.Token).ConfigureAwait(false);
        }
        catch (RpcException e) when (IsUnavailable(e.StatusCode))
        {
            throw new MetadataStoreUnavailableException($"etcd {what}: {e.Status.Detail} ({e.StatusCode})", e);
        }
        catch (HttpRequestException e)
        {
            throw new MetadataStoreUnavailableException($"etcd {what}: {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && !_disposed.IsCancellationRequested)
        {
            // dotnet-etcd reports a passed deadline as a cancellation.
            throw new MetadataStoreUnavailableException($"etcd {what}: no answer within {RequestTimeout.TotalSeconds:0.#} s", e);
        }
    }

    private static bool IsUnavailable(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted;

    internal static ByteString Bytes(string text) => ByteString.CopyFromUtf8(text);

    /// <summary>etcd's range end for "every key starting with prefix": the prefix with its last byte incremented.</summary>
    internal static ByteString PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0); // every key
    }

    internal static StoredValue ToStored(Mvccpb.KeyValue kv) =>
        new(kv.Key.ToStringUtf8(), kv.Value.Memory, kv.ModRevision, kv.CreateRevision, kv.Version, kv.Lease);

    private static Compare ToCompare(Condition condition)
    {
        var compare = new Compare
        {
            Key = Bytes(condition.Key),
            Result = condition.Operator switch
            {
                ConditionOperator.Equal => Compare.Types.CompareResult.Equal,
                ConditionOperator.NotEqual => Compare.Types.CompareResult.NotEqual,
                ConditionOperator.Less => Compare.Types.CompareResult.Less,
                _ => Compare.Types.CompareResult.Greater,
            },
        };
        switch (condition.Target)
        {
            case ConditionTarget.ModRevision:
                compare.Target = Compare.Types.CompareTarget.Mod;
                compare.ModRevision = condition.Number;
                break;
            case ConditionTarget.CreateRevision:
                compare.Target = Compare.Types.CompareTarget.Create;
                compare.CreateRevision = condition.Number;
                break;
            case ConditionTarget.Version:
                compare.Target = Compare.Types.CompareTarget.Version;
                compare.Version = condition.Number;
                break;
            default:
                compare.Target = Compare.Types.CompareTarget.Value;
                compare.Value = ByteString.CopyFrom(condition.Bytes.Span);
                break;
        }

        return compare;
    }

    private static RequestOp ToRequestOp(Operation operation) => operation.Kind switch
    {
        OperationKind.Put => new RequestOp { RequestPut = new PutRequest { Key = Bytes(operation.Key), Value = ByteString.CopyFrom(operation.Value.Span), Lease = operation.LeaseId } },
        OperationKind.Delete => new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Bytes(operation.Key) } },
        OperationKind.DeletePrefix => new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Bytes(operation.Key), RangeEnd = PrefixEnd(operation.Key) } },
        _ => new RequestOp { RequestRange = new RangeRequest { Key = Bytes(operation.Key) } },
    };
}
