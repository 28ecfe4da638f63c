using NsqSharp.Chaos.History;
using NsqSharp.Client;

namespace NsqSharp.Chaos.Workload;

/// <summary>The cluster as the workload sees it: each node's TCP address and the lookupds' HTTP addresses.</summary>
internal sealed record WorkloadTarget(IReadOnlyDictionary<string, string> NodeTcpAddresses, IReadOnlyList<string> LookupdHttpAddresses)
{
    /// <summary>The node id serving an address ("10.213.7.11:4150" -> "n1"), or the address itself when unknown.</summary>
    public string? NodeOf(string address)
    {
        foreach (var (node, tcp) in NodeTcpAddresses)
        {
            if (string.Equals(tcp, address, StringComparison.Ordinal))
            {
                return node;
            }
        }

        return address;
    }
}

/// <summary>
/// Runs the producers and consumers while the nemesis does its work, then the final drain: producers stop, consumers
/// go on until every acknowledged value came out (or nothing new arrives for a while, or a bound).
/// </summary>
internal sealed class WorkloadRunner(WorkloadTarget target, WorkloadOptions options, HistoryWriter history, TextWriter log)
{
    private readonly DequeueTracker _tracker = new();
    private readonly List<ConsumerWorker> _consumers = [];
    private readonly List<IAsyncDisposable> _clients = [];
    private readonly List<Task> _producing = [];
    private readonly CancellationTokenSource _stopProducing = new();

    public DequeueTracker Tracker => _tracker;

    public async Task StartAsync(CancellationToken ct)
    {
        var producers = options.LeaderProducers + options.NodeProducers;
        var stride = producers + options.Consumers;
        var nodes = target.NodeTcpAddresses.OrderBy(n => n.Key, StringComparer.Ordinal).ToList();
        if (options.ConsumeDuringRun)
        {
            await StartConsumersAsync(ct).ConfigureAwait(false);
        }

        var workers = new List<ProducerWorker>();
        for (var i = 0; i < options.LeaderProducers; i++)
        {
            var producer = new LookupdProducer(target.LookupdHttpAddresses, ProducerConfig());
            _clients.Add(producer);
            workers.Add(ProducerWorker.ThroughLookupd(i, stride, history, _tracker, options, producer, target.NodeOf));
        }

        for (var i = 0; i < options.NodeProducers; i++)
        {
            var (node, address) = nodes[i % nodes.Count];
            var producer = new Producer(address, ProducerConfig());
            _clients.Add(producer);
            workers.Add(ProducerWorker.PinnedTo(options.LeaderProducers + i, stride, history, _tracker, options, producer, node));
        }

        foreach (var worker in workers)
        {
            _producing.Add(Task.Run(() => worker.RunAsync(_stopProducing.Token), CancellationToken.None));
        }

        log.WriteLine($"workload: {workers.Count} producers ({string.Join(", ", workers.Select(w => w.Describe))}), " +
            $"{options.Consumers} consumers on {options.Topic}/{options.Channel} ({(options.ConsumeDuringRun ? "during the run" : "from the drain on")}), " +
            $"{options.RatePerProducer}/s each");
    }

    private async Task StartConsumersAsync(CancellationToken ct)
    {
        var producers = options.LeaderProducers + options.NodeProducers;
        for (var i = 0; i < options.Consumers; i++)
        {
            var consumer = new ConsumerWorker(producers + i, history, options, target.NodeOf, _tracker);
            _consumers.Add(consumer);
            await consumer.StartAsync(target.LookupdHttpAddresses, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the producers (each finishes the publish it has in flight) and drains.</summary>
    public async Task StopAndDrainAsync()
    {
        await _stopProducing.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_producing).ConfigureAwait(false);
        if (_consumers.Count == 0)
        {
            await StartConsumersAsync(CancellationToken.None).ConfigureAwait(false);
        }

        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var missing = _tracker.Missing;
            var elapsed = TimeProvider.System.GetElapsedTime(started);
            if (options.DrainIsOver(missing, _tracker.SinceLastDequeue, elapsed))
            {
                log.WriteLine($"workload: drain ended after {elapsed.TotalSeconds:F1} s, {missing} acknowledged values not seen");
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
        }

        foreach (var consumer in _consumers)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var client in _clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static NsqConfig ProducerConfig() => new() { DialTimeout = TimeSpan.FromSeconds(1) };
}
