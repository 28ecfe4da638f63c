using System.Globalization;
using System.Text;
using NsqSharp.Chaos.History;
using NsqSharp.Client;

namespace NsqSharp.Chaos.Workload;

/// <summary>
/// One Jepsen "client" that enqueues unique values, one publish in flight at a time, through either lookupd discovery
/// (to the leaders) or one pinned node (which forwards when it does not lead). After an indeterminate publish the worker
/// continues as a new process id, as Jepsen does: the old process may still be hanging in that operation.
/// </summary>
internal sealed class ProducerWorker
{
    private readonly int _index;
    private readonly int _processStride;
    private readonly HistoryWriter _history;
    private readonly WorkloadOptions _options;
    private readonly Func<ReadOnlyMemory<byte>, CancellationToken, Task<string?>> _publish;
    private readonly bool _errorsAreIndeterminate;
    private readonly DequeueTracker _tracker;
    private long _process;

    private ProducerWorker(int index, int processStride, HistoryWriter history, DequeueTracker tracker, WorkloadOptions options,
        Func<ReadOnlyMemory<byte>, CancellationToken, Task<string?>> publish, bool errorsAreIndeterminate, string describe)
    {
        _tracker = tracker;
        _index = index;
        _processStride = processStride;
        _history = history;
        _options = options;
        _publish = publish;
        _errorsAreIndeterminate = errorsAreIndeterminate;
        _process = index;
        Describe = describe;
    }

    public string Describe { get; }

    /// <summary>Publishes to the leaders lookupd names; the node recorded is the one the producer routed the topic to.
    /// Its errors are all indeterminate: it retries internally, so an earlier attempt may have been written.</summary>
    public static ProducerWorker ThroughLookupd(int index, int processStride, HistoryWriter history, DequeueTracker tracker,
        WorkloadOptions options, LookupdProducer producer, Func<string, string?> nodeOfAddress) =>
        new(index, processStride, history, tracker, options, async (body, ct) =>
        {
            await producer.PublishAsync(options.Topic, body, ct).ConfigureAwait(false);
            var route = producer.RouteOf(options.Topic);
            return route.Count > 0 ? nodeOfAddress(route[0]) : null;
        }, errorsAreIndeterminate: true, "lookupd");

    /// <summary>Publishes to one node, leader or not.</summary>
    public static ProducerWorker PinnedTo(int index, int processStride, HistoryWriter history, DequeueTracker tracker,
        WorkloadOptions options, Producer producer, string nodeId) =>
        new(index, processStride, history, tracker, options, async (body, ct) =>
        {
            await producer.PublishAsync(options.Topic, body, ct).ConfigureAwait(false);
            return nodeId;
        }, errorsAreIndeterminate: false, $"node {nodeId}");

    public async Task RunAsync(CancellationToken stop)
    {
        var interval = TimeSpan.FromSeconds(1.0 / Math.Max(1, _options.RatePerProducer));
        var next = TimeProvider.System.GetTimestamp();
        for (long seq = 0; !stop.IsCancellationRequested; seq++)
        {
            var value = string.Create(CultureInfo.InvariantCulture, $"{_index}-{seq}");
            await PublishOneAsync(value).ConfigureAwait(false);
            next += (long)(interval.TotalSeconds * TimeProvider.System.TimestampFrequency);
            var wait = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), next);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            else
            {
                next = TimeProvider.System.GetTimestamp(); // behind after a slow publish: no burst to catch up
            }
        }
    }

    private async Task PublishOneAsync(string value)
    {
        var process = _process;
        _history.Invoke(process, HistoryNames.Enqueue, value);
        // Not the run's stop token: a publish in flight at the end is seen through to its answer or its timeout.
        using var timeout = new CancellationTokenSource(_options.PublishTimeout);
        try
        {
            var node = await _publish(Encoding.UTF8.GetBytes(value), timeout.Token).ConfigureAwait(false);
            _history.Ok(process, HistoryNames.Enqueue, value, new OpDetails { Node = node });
            _tracker.Acked(value);
        }
        catch (Exception e) when (e is NsqException or OperationCanceledException or IOException or TimeoutException)
        {
            var outcome = _errorsAreIndeterminate ? PublishOutcome.Info : PublishOutcomes.Classify(e);
            var details = new OpDetails { Error = Describe + ": " + e.Message };
            if (outcome == PublishOutcome.Fail)
            {
                _history.Fail(process, HistoryNames.Enqueue, value, details);
            }
            else
            {
                _history.Info(process, HistoryNames.Enqueue, value, details);
                _process += _processStride; // this process may still be in that operation
            }
        }
    }
}
