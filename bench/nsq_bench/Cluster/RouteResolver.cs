using System.Diagnostics;

namespace NsqSharp.Bench.Cluster;

/// <summary>--lookupd-http-address (any number) and the settings a topic created through them gets.</summary>
internal sealed record LookupdSettings(IReadOnlyList<string> Addresses, TopicSettings Topic)
{
    public static readonly LookupdSettings None = new([], TopicSettings.Defaults);

    public bool Enabled => Addresses.Count > 0;

    /// <summary>Checks the flags (a FormatException is a usage error, before anything connects).</summary>
    public static LookupdSettings From(IEnumerable<string>? addresses, int partitions, int replicas, int minIsr)
    {
        var list = (addresses ?? []).SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal).ToList();
        foreach (var address in list)
        {
            _ = LookupdClient.ParseBase(address);
        }

        if (partitions < 0 || replicas < 0 || minIsr < 0)
        {
            throw new FormatException("--partitions, --replicas and --min-isr must be >= 0 (0 = lookupd's default)");
        }

        return new LookupdSettings(list, new TopicSettings(partitions, replicas, minIsr));
    }
}

/// <summary>
/// Finds where each topic lives through nsqlookupd: GET /lookup on every lookupd, producers merged (as go-nsq does);
/// a topic no lookupd knows (404) is created first with POST /topic/create. In cluster mode the answer is used once
/// every partition has a leader among the producers; an upstream-style answer (no <c>partitions</c>) once it has a
/// producer, or, when no nsqd has the topic yet, every nsqd of GET /nodes (a first publish creates it there, as
/// upstream). Everything is bounded: each request by <see cref="RequestTimeout"/>, the whole by the timeout given.
/// </summary>
internal static class RouteResolver
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    public static async Task<Routes> ResolveAsync(LookupdSettings settings, IReadOnlyList<string> topics, TimeSpan timeout, CancellationToken ct)
    {
        var clients = settings.Addresses.Select(a => new LookupdClient(a, RequestTimeout)).ToList();
        try
        {
            var routes = new List<TopicRoute>();
            foreach (var topic in topics.Distinct(StringComparer.Ordinal))
            {
                routes.Add(await ResolveTopicAsync(clients, topic, settings.Topic, timeout, ct).ConfigureAwait(false));
            }

            return new Routes(settings.Addresses, routes);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    public static async Task<TopicRoute> ResolveTopicAsync(IReadOnlyList<LookupdClient> clients, string topic, TopicSettings create, TimeSpan timeout,
        CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var created = new HashSet<LookupdClient>();
        var last = "no answer yet";
        while (true)
        {
            var answers = new List<LookupAnswer>();
            var missing = new List<LookupdClient>();
            var failures = new List<string>();
            var retry = false;
            foreach (var client in clients)
            {
                try
                {
                    if (await client.LookupAsync(topic, ct).ConfigureAwait(false) is { } answer)
                    {
                        answers.Add(answer);
                    }
                    else
                    {
                        missing.Add(client);
                    }
                }
                catch (LookupdException e)
                {
                    failures.Add(e.Message);
                    retry |= e.Retryable;
                }
            }

            if (answers.Count == 0 && missing.Count == 0 && !retry)
            {
                throw new LookupdException(string.Join("; ", failures)); // no lookupd could be asked at all
            }

            var merged = Merge(answers);
            if (IsReady(merged))
            {
                return await RouteOfAsync(clients, topic, merged, ct).ConfigureAwait(false);
            }

            foreach (var client in missing.Where(c => !created.Contains(c)))
            {
                // An error answer (bad settings, too few nodes) is final: retrying cannot change it. A 503 is not.
                try
                {
                    await client.CreateTopicAsync(topic, create, ct).ConfigureAwait(false);
                    created.Add(client);
                }
                catch (LookupdException e) when (e.Retryable)
                {
                    failures.Add(e.Message);
                }
            }

            if (answers.Count > 0 && missing.Count == 0 && merged.Partitions is null && merged.Producers.Count == 0)
            {
                // Upstream-style lookupd that knows the topic but no nsqd has it: publish to every nsqd it knows.
                var nodes = await RegisteredNodesAsync(clients, ct).ConfigureAwait(false);
                if (nodes.Count > 0)
                {
                    return new TopicRoute(topic, nodes, null, nodes, "nodes");
                }
            }

            last = Describe(merged, missing.Count, failures);
            if (Stopwatch.GetElapsedTime(start) + RetryDelay > timeout)
            {
                throw new LookupdException(
                    $"topic {topic}: lookupd named no leader for every partition within {timeout.TotalSeconds:0.#}s (last: {last})");
            }

            await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Producers of every answer (each once, in answer order); the partitions of the answer listing the most.</summary>
    public static LookupAnswer Merge(IReadOnlyList<LookupAnswer> answers)
    {
        var producers = new List<RouteNode>();
        foreach (var p in answers.SelectMany(a => a.Producers))
        {
            if (!producers.Exists(x => x.Address == p.Address))
            {
                producers.Add(p);
            }
        }

        var partitions = answers.Select(a => a.Partitions).OfType<IReadOnlyList<PartitionInfo>>().MaxBy(p => p.Count);
        return new LookupAnswer(producers, partitions);
    }

    /// <summary>Cluster mode: every partition led by a listed producer. Upstream: any producer.</summary>
    public static bool IsReady(LookupAnswer a) =>
        a.Producers.Count > 0 &&
        (a.Partitions is null || (a.Partitions.Count > 0 && a.Partitions.All(p => p.Leader is { } leader && a.Producers.Any(n => n.NodeId == leader))));

    private static async Task<TopicRoute> RouteOfAsync(IReadOnlyList<LookupdClient> clients, string topic, LookupAnswer answer, CancellationToken ct)
    {
        if (answer.Partitions is null)
        {
            return new TopicRoute(topic, answer.Producers, null, answer.Producers, "producers");
        }

        // Leaders: the producers that lead a partition (all of them, as lookupd lists only leaders).
        var leaders = answer.Producers.Where(p => answer.Partitions.Any(x => x.Leader == p.NodeId)).ToList();
        var nodes = new List<RouteNode>(leaders);
        var ids = answer.Partitions.SelectMany(p => p.Replicas).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (ids.Exists(id => !nodes.Exists(n => n.NodeId == id)))
        {
            var registered = await ClusterNodesAsync(clients, ct).ConfigureAwait(false);
            foreach (var id in ids)
            {
                if (!nodes.Exists(n => n.NodeId == id) && registered.FirstOrDefault(n => n.NodeId == id) is { } follower)
                {
                    nodes.Add(follower);
                }
            }
        }

        return new TopicRoute(topic, leaders, answer.Partitions, nodes, "cluster");
    }

    /// <summary>The cluster's nodes from the first lookupd whose GET /cluster answers (none: followers stay unknown).</summary>
    private static async Task<IReadOnlyList<RouteNode>> ClusterNodesAsync(IReadOnlyList<LookupdClient> clients, CancellationToken ct)
    {
        foreach (var client in clients)
        {
            try
            {
                return await client.ClusterNodesAsync(ct).ConfigureAwait(false);
            }
            catch (LookupdException)
            {
                // try the next one
            }
        }

        return [];
    }

    private static async Task<IReadOnlyList<RouteNode>> RegisteredNodesAsync(IReadOnlyList<LookupdClient> clients, CancellationToken ct)
    {
        var nodes = new List<RouteNode>();
        foreach (var client in clients)
        {
            try
            {
                foreach (var n in await client.NodesAsync(ct).ConfigureAwait(false))
                {
                    if (!nodes.Exists(x => x.Address == n.Address))
                    {
                        nodes.Add(n);
                    }
                }
            }
            catch (LookupdException)
            {
                // the others may answer
            }
        }

        return nodes;
    }

    private static string Describe(LookupAnswer merged, int missing, List<string> failures)
    {
        var parts = new List<string>
        {
            $"producers [{string.Join(", ", merged.Producers)}]",
            merged.Partitions is null
                ? "no partitions"
                : $"partitions [{string.Join(", ", merged.Partitions.Select(p => $"{p.Partition}: leader {p.Leader ?? "none"}"))}]",
        };
        if (missing > 0)
        {
            parts.Add($"{missing} lookupd(s) answered 404");
        }

        parts.AddRange(failures);
        return string.Join("; ", parts);
    }
}
