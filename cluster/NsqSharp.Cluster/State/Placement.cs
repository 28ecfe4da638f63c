namespace NsqSharp.Cluster.State;

/// <summary>
/// Where a new topic's partitions go: replicas spread evenly over the live nodes, and leaders (each partition's
/// first replica) spread evenly too, counting what the nodes already hold so that topics created one after another
/// do not all land on the same nodes. Pure: the controller gives it a snapshot and writes the result.
/// </summary>
public static class Placement
{
    /// <param name="nodes">Live node ids.</param>
    /// <param name="partitions">How many partitions.</param>
    /// <param name="replicas">Replicas per partition (at most the node count).</param>
    /// <param name="existing">Partitions already placed (any topic), for load.</param>
    public static IReadOnlyList<IReadOnlyList<string>> Assign(IReadOnlyCollection<string> nodes, int partitions, int replicas,
        IEnumerable<PartitionState> existing)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        if (replicas > nodes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(replicas), $"replicas {replicas} > live nodes {nodes.Count}");
        }

        var replicaLoad = nodes.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        var leaderLoad = nodes.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        foreach (var state in existing)
        {
            foreach (var replica in state.Replicas)
            {
                if (replicaLoad.ContainsKey(replica))
                {
                    replicaLoad[replica]++;
                }
            }

            if (state.Replicas.Count > 0 && leaderLoad.ContainsKey(state.Replicas[0]))
            {
                leaderLoad[state.Replicas[0]]++;
            }
        }

        // Replica sets: each takes the nodes holding fewest replicas (ties: name), which keeps replica counts within
        // one of each other. Leaders: first the member leading fewest, then moves from the busiest leaders to a
        // member of the same set, or along a chain of such moves, ending at a node that leads at least two fewer, until no
        // such chain is left.
        var sets = new List<List<string>>(partitions);
        for (int p = 0; p < partitions; p++)
        {
            var members = nodes.OrderBy(n => replicaLoad[n]).ThenBy(n => leaderLoad[n]).ThenBy(n => n, StringComparer.Ordinal)
                .Take(replicas).ToList();
            var leader = members.OrderBy(n => leaderLoad[n]).ThenBy(n => n, StringComparer.Ordinal).First();
            members.Remove(leader);
            members.Insert(0, leader);
            foreach (var n in members)
            {
                replicaLoad[n]++;
            }

            leaderLoad[leader]++;
            sets.Add(members);
        }

        while (ShiftOneLeadership(sets, leaderLoad))
        {
        }

        var result = sets.Select(s => (IReadOnlyList<string>)s).ToList();
        return result;
    }

    /// <summary>
    /// Finds, from a node that leads the most, a chain X0 → X1 → ... → Xk where each Xi leads a partition whose
    /// replica set holds Xi+1 and Xk leads at least two fewer than X0; moves each of those leaderships one step.
    /// X0 loses one, Xk gains one, the rest are unchanged: the spread narrows. False when no chain exists.
    /// </summary>
    private static bool ShiftOneLeadership(List<List<string>> sets, Dictionary<string, int> leaderLoad)
    {
        foreach (var start in leaderLoad.Keys.OrderByDescending(n => leaderLoad[n]).ThenBy(n => n, StringComparer.Ordinal))
        {
            var via = new Dictionary<string, (string From, int Set)>(StringComparer.Ordinal) { [start] = (start, -1) };
            var queue = new Queue<string>();
            queue.Enqueue(start);
            while (queue.Count > 0)
            {
                var node = queue.Dequeue();
                for (int i = 0; i < sets.Count; i++)
                {
                    if (sets[i][0] != node)
                    {
                        continue;
                    }

                    foreach (var next in sets[i].Skip(1))
                    {
                        if (via.ContainsKey(next))
                        {
                            continue;
                        }

                        via[next] = (node, i);
                        if (leaderLoad[next] + 2 <= leaderLoad[start])
                        {
                            for (var at = next; at != start;)
                            {
                                var (from, set) = via[at];
                                sets[set].Remove(at);
                                sets[set].Insert(0, at);
                                at = from;
                            }

                            leaderLoad[start]--;
                            leaderLoad[next]++;
                            return true;
                        }

                        queue.Enqueue(next);
                    }
                }
            }
        }

        return false;
    }
}
