using NsqSharp.Chaos.History;
using NsqSharp.Client;

namespace NsqSharp.Chaos.Workload;

/// <summary>
/// One consuming Jepsen "client": our Consumer on the workload's channel, finding the leaders through lookupd. Each
/// delivered message is a dequeue (invoke with no value, ok with the value received and the node that served it),
/// recorded before the FIN: a FIN lost to a fault makes a redelivery, which the checker counts as a duplicate.
/// </summary>
internal sealed class ConsumerWorker : IAsyncDisposable
{
    private readonly long _process;
    private readonly HistoryWriter _history;
    private readonly Consumer _consumer;
    private readonly Func<string, string?> _nodeOfAddress;
    private readonly DequeueTracker _tracker;
    private readonly Lock _record = new(); // a process has one operation open at a time: invoke and ok stay adjacent

    public ConsumerWorker(long process, HistoryWriter history, WorkloadOptions options, Func<string, string?> nodeOfAddress,
        DequeueTracker tracker)
    {
        _process = process;
        _history = history;
        _nodeOfAddress = nodeOfAddress;
        _tracker = tracker;
        var config = new NsqConfig
        {
            MaxInFlight = 50,
            // Faults move leaders every few seconds: find the new one soon, not after upstream's 60 s.
            LookupdPollInterval = TimeSpan.FromSeconds(1),
            DialTimeout = TimeSpan.FromSeconds(1),
        };
        _consumer = new Consumer(options.Topic, options.Channel, config);
        _consumer.AddHandler(HandleAsync, concurrency: 4);
    }

    public Task StartAsync(IEnumerable<string> lookupdHttpAddresses, CancellationToken ct) =>
        _consumer.ConnectToNsqLookupdsAsync(lookupdHttpAddresses, ct);

    private Task HandleAsync(Message message, CancellationToken ct)
    {
        var value = message.GetBodyAsString();
        var node = _nodeOfAddress(message.NsqdAddress);
        lock (_record)
        {
            _history.Invoke(_process, HistoryNames.Dequeue, null);
            _history.Ok(_process, HistoryNames.Dequeue, value, new OpDetails { Node = node });
        }

        _tracker.Dequeued(value);
        return Task.CompletedTask; // returning finishes it
    }

    public async ValueTask DisposeAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _consumer.StopAsync(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _consumer.DisposeAsync().ConfigureAwait(false);
    }
}
