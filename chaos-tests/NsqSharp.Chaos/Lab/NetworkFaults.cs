using System.Globalization;
using System.Text;
using NsqSharp.Testing;

namespace NsqSharp.Chaos.Lab;

/// <summary>A partition into two sides (majority and minority for <see cref="NetworkFaults.PartitionHalvesAsync"/>).</summary>
public sealed record LabPartition(IReadOnlyList<string> Majority, IReadOnlyList<string> Minority)
{
    public override string ToString() => $"[{string.Join(' ', Majority)}] | [{string.Join(' ', Minority)}]";
}

/// <summary>
/// How a member's link is shaped: a rate limit (tbf: a slow link, so queueing delay; packets past
/// <see cref="MaxQueueDelay"/> of queue are dropped) and, only where netem exists, a fixed delay with jitter.
/// </summary>
public sealed record LinkShape(int RateKbit = 0, TimeSpan Delay = default, TimeSpan Jitter = default)
{
    /// <summary>How much queue tbf keeps (as time at the rate) before it drops.</summary>
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromSeconds(1);

    public override string ToString() =>
        string.Join(' ', new[]
        {
            RateKbit > 0 ? $"rate {RateKbit}kbit" : null,
            Delay > TimeSpan.Zero ? $"delay {Delay.TotalMilliseconds}ms" + (Jitter > TimeSpan.Zero ? $"±{Jitter.TotalMilliseconds}ms" : "") : null,
        }.OfType<string>());
}

/// <summary>
/// The network faults over a <see cref="LabDescription"/>'s namespaces. Each is a method, idempotent (the faults are a
/// set: applying one twice changes nothing) and reversible (its own undo, and <see cref="HealAsync"/> for all). Packets
/// are dropped where they arrive: a member's INPUT chain NSQCHAOS, by the sender's lab address on eth0 (never loopback
/// traffic). Dropping in OUTPUT instead would fail the sender's own send() with EPERM, a local error no real network
/// partition produces; dropping at the receiver is silent loss, as on a real network. A member's chain is rewritten
/// whole and atomically (iptables-restore --noflush) whenever its set of rules changes. Slow links are tbf qdiscs on
/// the member's eth0 (what it sends) and its bridge port (what it receives); delays use netem where the kernel has it
/// (<see cref="NetemAvailable"/>; this one may not) and are refused otherwise.
/// </summary>
public sealed class NetworkFaults
{
    private const string Unknown = "?";
    private readonly LabDescription _lab;
    private readonly LabShell _shell;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<(string From, string To)> _blocked = [];
    private readonly Dictionary<string, double> _loss = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkShape> _shapes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _appliedRules = new(StringComparer.Ordinal);

    /// <exception cref="NotSupportedException">The lab is loopback only.</exception>
    public NetworkFaults(LabDescription lab, LabShell? shell = null)
    {
        if (lab.Mode != LabMode.Namespaces)
        {
            throw new NotSupportedException($"network faults need the namespace lab; this one is loopback only ({lab.LoopbackReason})");
        }

        _lab = lab;
        _shell = shell ?? new LabShell(lab.CommandLog);
    }

    public bool NetemAvailable => _lab.NetemAvailable;

    public LabShell Shell => _shell;

    /// <summary>The directed links whose packets are dropped now (From's packets to To).</summary>
    public IReadOnlyCollection<(string From, string To)> Blocked
    {
        get
        {
            lock (_blocked)
            {
                return [.. _blocked.OrderBy(b => b.From, StringComparer.Ordinal).ThenBy(b => b.To, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Members losing packets now, and the fraction (0..1) of packets to and from them that is dropped.</summary>
    public IReadOnlyDictionary<string, double> Loss
    {
        get
        {
            lock (_blocked)
            {
                return new Dictionary<string, double>(_loss, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Members whose link is shaped now.</summary>
    public IReadOnlyDictionary<string, LinkShape> Shapes
    {
        get
        {
            lock (_blocked)
            {
                return new Dictionary<string, LinkShape>(_shapes, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>One line for the report: what is in effect.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        var blocked = Blocked;
        if (blocked.Count > 0)
        {
            parts.Add("blocked " + string.Join(' ', blocked.Select(b => $"{b.From}->{b.To}")));
        }

        parts.AddRange(Loss.Select(l => $"loss {l.Key} {l.Value * 100:0.#}%"));
        parts.AddRange(Shapes.Select(s => $"shape {s.Key} {s.Value}"));
        return parts.Count == 0 ? "healthy" : string.Join("; ", parts);
    }

    /// <summary>One way: from's packets to `to` are dropped; to's packets to from still arrive.</summary>
    public Task BlockAsync(string from, string to) => ChangeAsync(() => Add(from, to));

    /// <summary>Undoes <see cref="BlockAsync"/>.</summary>
    public Task UnblockAsync(string from, string to) => ChangeAsync(() => Remove(from, to));

    /// <summary>Cuts the member off from the others (default: every other member, the client too), both directions.</summary>
    public Task IsolateAsync(string member, IEnumerable<string>? others = null) => ChangeAsync(() =>
    {
        foreach (var other in Others(member, others))
        {
            Add(member, other);
            Add(other, member);
        }
    });

    /// <summary>Undoes <see cref="IsolateAsync"/>: removes the blocks between the member and the others, both directions.</summary>
    public Task RejoinAsync(string member, IEnumerable<string>? others = null) => ChangeAsync(() =>
    {
        foreach (var other in Others(member, others))
        {
            Remove(member, other);
            Remove(other, member);
        }
    });

    /// <summary>No member of one side reaches one of the other, either way; members in neither side are untouched.</summary>
    public Task PartitionAsync(IEnumerable<string> sideA, IEnumerable<string> sideB)
    {
        var a = sideA.ToList();
        var b = sideB.ToList();
        if (a.Intersect(b, StringComparer.Ordinal).FirstOrDefault() is { } both)
        {
            throw new ArgumentException($"'{both}' is on both sides");
        }

        return ChangeAsync(() =>
        {
            foreach (var x in a)
            {
                foreach (var y in b)
                {
                    Add(x, y);
                    Add(y, x);
                }
            }
        });
    }

    /// <summary>
    /// Splits the members into a majority (the first ones in the order given: shuffle first for a random split) and a
    /// minority of max(1, (n-1)/2) (the rest: 1 of 2, 3 or 4, 2 of 5 or 6), which cannot reach each other.
    /// </summary>
    public async Task<LabPartition> PartitionHalvesAsync(IReadOnlyList<string> members)
    {
        if (members.Count < 2)
        {
            throw new ArgumentException("a partition needs at least two members", nameof(members));
        }

        var majority = members.Take(members.Count - Math.Max(1, (members.Count - 1) / 2)).ToList();
        var minority = members.Skip(majority.Count).ToList();
        await PartitionAsync(majority, minority).ConfigureAwait(false);
        return new LabPartition(majority, minority);
    }

    /// <summary>The bridge reaches both sides (its blocks are removed), the sides do not reach each other.</summary>
    public Task BridgeAsync(string bridge, IEnumerable<string> sideA, IEnumerable<string> sideB)
    {
        var a = sideA.Where(m => m != bridge).ToList();
        var b = sideB.Where(m => m != bridge).ToList();
        return ChangeAsync(() =>
        {
            foreach (var other in a.Concat(b))
            {
                Remove(bridge, other);
                Remove(other, bridge);
            }

            foreach (var x in a)
            {
                foreach (var y in b)
                {
                    Add(x, y);
                    Add(y, x);
                }
            }
        });
    }

    /// <summary>Drops this percentage (0-100) of the packets the member receives from the lab and of those it sends to it.</summary>
    public Task LossAsync(string member, double percent)
    {
        if (percent is < 0 or > 100 || double.IsNaN(percent))
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "0-100");
        }

        _lab.Member(member);
        return ChangeAsync(() =>
        {
            if (percent == 0)
            {
                _loss.Remove(member);
            }
            else
            {
                _loss[member] = percent / 100;
            }
        });
    }

    public Task ClearLossAsync(string member) => LossAsync(member, 0);

    /// <summary>Rate-limits the member's link both ways (tbf), so it queues: a slow link.</summary>
    public Task SlowAsync(string member, int rateKbit) => ShapeAsync(member, new LinkShape(RateKbit: rateKbit));

    /// <summary>Delays the member's packets both ways (netem only).</summary>
    /// <exception cref="NotSupportedException">This kernel has no netem.</exception>
    public Task DelayAsync(string member, TimeSpan delay, TimeSpan jitter = default) => ShapeAsync(member, new LinkShape(Delay: delay, Jitter: jitter));

    /// <summary>Shapes the member's link both ways (replacing any shape it had); a default shape clears it.</summary>
    /// <exception cref="NotSupportedException">A delay was asked for and this kernel has no netem.</exception>
    public async Task ShapeAsync(string member, LinkShape shape)
    {
        var m = _lab.Member(member);
        if (shape.Delay > TimeSpan.Zero && !NetemAvailable)
        {
            throw new NotSupportedException($"fixed delays need tc's netem qdisc, which this kernel lacks ({_lab.NetemReason}); use SlowAsync (tbf) instead");
        }

        if (shape.RateKbit < 0 || shape.Delay < TimeSpan.Zero || shape.Jitter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "negative");
        }

        var clear = shape.RateKbit == 0 && shape.Delay == TimeSpan.Zero;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            bool had;
            lock (_blocked)
            {
                had = _shapes.TryGetValue(member, out var current);
                if (had && current == shape)
                {
                    return;
                }
            }

            if (clear)
            {
                if (had)
                {
                    await ClearQdiscsAsync(m).ConfigureAwait(false);
                }
            }
            else
            {
                var qdisc = Qdisc(shape);
                await _shell.RunAsync(ServerPlacement.IpCommand, ["netns", "exec", m.Namespace, "tc", "qdisc", "replace", "dev", "eth0", "root", .. qdisc]).ConfigureAwait(false);
                await _shell.RunAsync(ServerPlacement.IpCommand, ["netns", "exec", _lab.SwitchNamespace, "tc", "qdisc", "replace", "dev", m.SwitchPort, "root", .. qdisc]).ConfigureAwait(false);
            }

            lock (_blocked)
            {
                if (clear)
                {
                    _shapes.Remove(member);
                }
                else
                {
                    _shapes[member] = shape;
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task ClearShapeAsync(string member) => ShapeAsync(member, new LinkShape());

    /// <summary>Removes every fault: flushes every member's chain (whatever this object believes is in it) and removes
    /// the shapes.</summary>
    public async Task HealAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            List<string> shaped;
            lock (_blocked)
            {
                _blocked.Clear();
                _loss.Clear();
                shaped = [.. _shapes.Keys];
            }

            foreach (var member in _lab.Members)
            {
                await ApplyRulesAsync(member, force: true).ConfigureAwait(false);
            }

            foreach (var name in shaped)
            {
                await ClearQdiscsAsync(_lab.Member(name)).ConfigureAwait(false);
                lock (_blocked)
                {
                    _shapes.Remove(name);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The rules of the member's chain now, as iptables lists them (for tests and debugging).</summary>
    public async Task<IReadOnlyList<string>> ListRulesAsync(string member)
    {
        var m = _lab.Member(member);
        var list = await _shell.RunAsync(ServerPlacement.IpCommand, "netns", "exec", m.Namespace, "iptables", "-w", "-S", NetworkLab.Chain).ConfigureAwait(false);
        return [.. list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("-A ", StringComparison.Ordinal))];
    }

    private IEnumerable<string> Others(string member, IEnumerable<string>? others)
    {
        _lab.Member(member);
        return (others ?? _lab.Members.Select(m => m.Name)).Where(o => o != member).ToList();
    }

    private void Add(string from, string to)
    {
        _lab.Member(from);
        _lab.Member(to);
        if (from != to)
        {
            _blocked.Add((from, to));
        }
    }

    private void Remove(string from, string to) => _blocked.Remove((from, to));

    /// <summary>Changes the model, then rewrites the chains that differ from what was applied.</summary>
    private async Task ChangeAsync(Action change)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_blocked)
            {
                change();
            }

            foreach (var member in _lab.Members)
            {
                await ApplyRulesAsync(member, force: false).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ApplyRulesAsync(LabMember member, bool force)
    {
        string rules;
        lock (_blocked)
        {
            rules = Render(member);
        }

        // A new chain is empty; one whose last rewrite failed is unknown and always rewritten.
        var applied = _appliedRules.GetValueOrDefault(member.Name, "");
        if (!force && applied == rules)
        {
            return;
        }

        var restore = $"*filter\n:{NetworkLab.Chain} - [0:0]\n{rules}COMMIT\n";
        var result = await _shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", member.Namespace, "iptables-restore", "-w", "--noflush"], restore).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            _appliedRules[member.Name] = Unknown;
            throw new LabCommandException(result);
        }

        _appliedRules[member.Name] = rules;
    }

    /// <summary>The member's chain: drops of blocked senders, then the random drops of loss.</summary>
    private string Render(LabMember member)
    {
        var text = new StringBuilder();
        foreach (var from in _blocked.Where(b => b.To == member.Name).Select(b => b.From).Order(StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"-A {NetworkLab.Chain} -i eth0 -s {_lab.Member(from).Address}/32 -j DROP\n");
        }

        if (_loss.TryGetValue(member.Name, out var own))
        {
            text.Append(CultureInfo.InvariantCulture, $"-A {NetworkLab.Chain} -i eth0 -s {_lab.Subnet} {Statistic(own)} -j DROP\n");
        }

        foreach (var (other, p) in _loss.Where(l => l.Key != member.Name).OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"-A {NetworkLab.Chain} -i eth0 -s {_lab.Member(other).Address}/32 {Statistic(p)} -j DROP\n");
        }

        return text.ToString();
    }

    private static string Statistic(double p) => string.Create(CultureInfo.InvariantCulture, $"-m statistic --mode random --probability {p:0.########}");

    private static List<string> Qdisc(LinkShape shape)
    {
        if (shape.Delay > TimeSpan.Zero)
        {
            var netem = new List<string> { "netem", "delay", Ms(shape.Delay) };
            if (shape.Jitter > TimeSpan.Zero)
            {
                netem.Add(Ms(shape.Jitter));
            }

            if (shape.RateKbit > 0)
            {
                netem.AddRange(["rate", $"{shape.RateKbit}kbit"]);
            }

            return netem;
        }

        // burst: at least a full frame, else 20 ms at the rate; latency bounds the queue.
        var bytesPerSecond = shape.RateKbit * 1000L / 8;
        var burst = Math.Max(3000, bytesPerSecond / 50);
        return ["tbf", "rate", $"{shape.RateKbit}kbit", "burst", burst.ToString(CultureInfo.InvariantCulture), "latency", Ms(shape.MaxQueueDelay)];
    }

    private static string Ms(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, (long)t.TotalMilliseconds)}ms");

    private async Task ClearQdiscsAsync(LabMember m)
    {
        // "Cannot delete qdisc with handle of zero" when there is none: fine, that is the state wanted.
        await _shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", m.Namespace, "tc", "qdisc", "del", "dev", "eth0", "root"]).ConfigureAwait(false);
        await _shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", _lab.SwitchNamespace, "tc", "qdisc", "del", "dev", m.SwitchPort, "root"]).ConfigureAwait(false);
    }
}
