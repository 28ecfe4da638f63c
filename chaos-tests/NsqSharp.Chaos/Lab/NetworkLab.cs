using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NsqSharp.Testing;

namespace NsqSharp.Chaos.Lab;

/// <summary>What the lab is made of; the defaults are the chaos run's.</summary>
public sealed record LabOptions
{
    /// <summary>Every namespace is named with it; the stale-state sweep removes exactly the names that start with it.</summary>
    public string Prefix { get; init; } = NetworkLab.DefaultPrefix;

    /// <summary>The members besides <see cref="LabDescription.ClientName"/> (always added): one namespace each.</summary>
    public IReadOnlyList<string> Members { get; init; } = ["etcd", "l1", "l2", "n1", "n2", "n3"];

    /// <summary>The first three octets of the lab's private /24.</summary>
    public string Subnet { get; init; } = "10.213.7";

    /// <summary>Where the lab's description and command log go (and the run's data), or null for none.</summary>
    public string? OutDir { get; init; }
}

/// <summary>Whether this machine can make the lab, and if not why (the report shows it).</summary>
public sealed record LabSupport(bool Namespaces, string? Reason)
{
    public override string ToString() => Namespaces ? "network namespaces" : $"loopback only ({Reason})";
}

/// <summary>
/// The network lab: a switch namespace holding a bridge, and one namespace per member (the cluster's and the
/// workload's <c>client</c>), each with lo up and eth0, a veth into the bridge, addressed on a private /24 that exists
/// only inside these namespaces: nothing is made, addressed or routed in the host namespace, so no lab address can leak
/// to a host interface. Each member's iptables has a chain of the lab's (NSQCHAOS) jumped to from INPUT, for the
/// <see cref="NetworkFaults"/>. Every name starts with the prefix; <see cref="SweepAsync"/> (run at creation) removes
/// what a crashed run left, and disposing tears everything down: the processes still in the namespaces are killed and
/// the namespaces deleted, which deletes their veths, bridge and rules with them. One lab per prefix at a time (a lock
/// file under /run/lock).
/// </summary>
public sealed partial class NetworkLab : IAsyncDisposable, IDisposable
{
    public const string DefaultPrefix = "nsqchaos-";

    /// <summary>The lab's iptables chain in every member namespace.</summary>
    public const string Chain = "NSQCHAOS";

    /// <summary>The bridge in the switch namespace.</summary>
    public const string Bridge = "br0";

    private readonly FileStream _lock;
    private readonly string _lockPath;
    private int _disposed;

    private NetworkLab(LabDescription description, LabShell shell, FileStream lockFile, string lockPath)
    {
        Description = description;
        Shell = shell;
        _lock = lockFile;
        _lockPath = lockPath;
        Faults = new NetworkFaults(description, shell);
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public LabDescription Description { get; }

    /// <summary>Every command the lab ran (creation, faults, teardown).</summary>
    public LabShell Shell { get; }

    /// <summary>The fault primitives over this lab.</summary>
    public NetworkFaults Faults { get; }

    /// <summary>What the sweep at creation removed (a crashed run's namespaces and links).</summary>
    public IReadOnlyList<string> Swept { get; private set; } = [];

    public string Prefix => Description.Prefix;

    public IReadOnlyList<LabMember> Members => Description.Members;

    public LabMember Member(string name) => Description.Member(name);

    /// <summary>
    /// Whether namespaces can be made here: root, ip and iptables present, and a probe namespace (prefix + "probe")
    /// can be created, given an iptables chain and deleted. Never throws.
    /// </summary>
    public static async Task<LabSupport> ProbeSupportAsync(string prefix = DefaultPrefix, LabShell? shell = null)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new(false, "not Linux");
        }

        if (GetEuid() != 0)
        {
            return new(false, "not root (network namespaces and iptables need root)");
        }

        if (!File.Exists(ServerPlacement.IpCommand))
        {
            return new(false, "no ip command (apt-get install iproute2)");
        }

        if (FindTool("iptables") == null)
        {
            return new(false, "no iptables (apt-get install iptables)");
        }

        shell ??= new LabShell();
        var probe = prefix + "probe";
        try
        {
            ValidatePrefix(prefix);
            await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "delete", probe]).ConfigureAwait(false);
            var add = await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "add", probe]).ConfigureAwait(false);
            if (add.ExitCode != 0)
            {
                return new(false, $"cannot create a network namespace: {add.Output.Trim()}");
            }

            var chain = await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", probe, "iptables", "-w", "-N", Chain]).ConfigureAwait(false);
            if (chain.ExitCode != 0)
            {
                return new(false, $"iptables does not work in a network namespace: {chain.Output.Trim()}");
            }

            return new(true, null);
        }
        catch (ArgumentException e)
        {
            return new(false, e.Message);
        }
        finally
        {
            await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "delete", probe]).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Removes what a run with this prefix left behind: kills every process still inside one of its namespaces, then
    /// deletes the namespaces (with their veths, bridge and rules) and any host link named with the prefix (the lab
    /// makes none; a defence against an older layout). Returns what it removed.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SweepAsync(string prefix, LabShell? shell = null)
    {
        ValidatePrefix(prefix);
        shell ??= new LabShell();
        var removed = new List<string>();
        var list = await shell.RunAsync(ServerPlacement.IpCommand, "netns", "list").ConfigureAwait(false);
        var namespaces = ParseNamespaces(list.Output).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        foreach (var ns in namespaces)
        {
            await KillProcessesInAsync(ns, shell).ConfigureAwait(false);
        }

        // Members first, the switch last (its ports go with the members' veths).
        foreach (var ns in namespaces.OrderBy(n => n == prefix + "switch" ? 1 : 0))
        {
            await shell.RunAsync(ServerPlacement.IpCommand, "netns", "delete", ns).ConfigureAwait(false);
            removed.Add("netns " + ns);
        }

        foreach (var link in await HostLinksAsync(prefix, shell).ConfigureAwait(false))
        {
            await shell.RunAsync(ServerPlacement.IpCommand, "link", "delete", link).ConfigureAwait(false);
            removed.Add("link " + link);
        }

        if (removed.Count > 0)
        {
            shell.Note($"sweep {prefix}: removed {string.Join(", ", removed)}");
        }

        return removed;
    }

    /// <summary>The namespaces whose names start with the prefix, as `ip netns list` has them now.</summary>
    public static async Task<IReadOnlyList<string>> ListNamespacesAsync(string prefix, LabShell? shell = null)
    {
        var list = await (shell ?? new LabShell()).RunAsync(ServerPlacement.IpCommand, "netns", "list").ConfigureAwait(false);
        return [.. ParseNamespaces(list.Output).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];
    }

    /// <summary>The host namespace's links whose names start with the prefix (the lab makes none).</summary>
    public static async Task<IReadOnlyList<string>> HostLinksAsync(string prefix, LabShell? shell = null)
    {
        var links = await (shell ?? new LabShell()).RunAsync(ServerPlacement.IpCommand, "-o", "link", "show").ConfigureAwait(false);
        return [.. ParseLinks(links.Output).Where(l => l.StartsWith(prefix, StringComparison.Ordinal))];
    }

    /// <summary>
    /// Sweeps the prefix's leftovers, then makes the lab. On a failure what was made is torn down again.
    /// </summary>
    /// <exception cref="LabCommandException">A command failed (the lab is gone again).</exception>
    /// <exception cref="InvalidOperationException">Another lab with this prefix is running.</exception>
    public static async Task<NetworkLab> CreateAsync(LabOptions options)
    {
        ValidatePrefix(options.Prefix);
        var names = options.Members.Contains(LabDescription.ClientName) ? options.Members : [.. options.Members, LabDescription.ClientName];
        foreach (var name in names)
        {
            ValidateMember(name);
        }

        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
        {
            throw new ArgumentException("member names must be distinct", nameof(options));
        }

        if (!SubnetPattern().IsMatch(options.Subnet))
        {
            throw new ArgumentException($"subnet '{options.Subnet}' is not three octets like 10.213.7", nameof(options));
        }

        var (lockFile, lockPath) = TakeLock(options.Prefix);
        var shell = new LabShell(options.OutDir is { } dir ? Path.Combine(dir, "lab-commands.log") : null);
        try
        {
            if (options.OutDir is { } outDir)
            {
                Directory.CreateDirectory(outDir);
            }

            var swept = await SweepAsync(options.Prefix, shell).ConfigureAwait(false);
            var description = await BuildAsync(options, names, shell).ConfigureAwait(false);
            if (options.OutDir is { } o)
            {
                description.Save(Path.Combine(o, "lab.json"));
            }

            return new NetworkLab(description, shell, lockFile, lockPath) { Swept = swept };
        }
        catch
        {
            try
            {
                await SweepAsync(options.Prefix, shell).ConfigureAwait(false);
            }
            finally
            {
                ReleaseLock(lockFile, lockPath);
            }

            throw;
        }
    }

    /// <summary>Kills what still runs in the lab's namespaces and deletes them all; idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            await SweepAsync(Prefix, Shell).ConfigureAwait(false);
        }
        finally
        {
            ReleaseLock(_lock, _lockPath);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void OnProcessExit(object? sender, EventArgs e)
    {
        try
        {
            Dispose();
        }
        catch (Exception ex) when (ex is LabCommandException or IOException)
        {
            // the next run's sweep removes what is left
        }
    }

    private static async Task<LabDescription> BuildAsync(LabOptions options, IReadOnlyList<string> names, LabShell shell)
    {
        var ip = ServerPlacement.IpCommand;
        var sw = options.Prefix + "switch";
        await shell.RunAsync(ip, "netns", "add", sw).ConfigureAwait(false);
        await shell.RunAsync(ip, "-n", sw, "link", "set", "lo", "up").ConfigureAwait(false);
        await shell.RunAsync(ip, "-n", sw, "link", "add", Bridge, "type", "bridge", "stp_state", "0").ConfigureAwait(false);
        await shell.RunAsync(ip, "-n", sw, "link", "set", Bridge, "up").ConfigureAwait(false);

        var members = new List<LabMember>();
        var hosts = AssignHosts(names);
        foreach (var name in names)
        {
            var member = new LabMember
            {
                Name = name,
                Namespace = options.Prefix + name,
                Address = $"{options.Subnet}.{hosts[name]}",
                SwitchPort = "p-" + name,
            };
            var ns = member.Namespace;
            await shell.RunAsync(ip, "netns", "add", ns).ConfigureAwait(false);
            await shell.RunAsync(ip, "-n", ns, "link", "set", "lo", "up").ConfigureAwait(false);
            // Made inside the member's namespace with its peer inside the switch's: no end ever exists in the host's.
            await shell.RunAsync(ip, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", member.SwitchPort, "netns", sw).ConfigureAwait(false);
            await shell.RunAsync(ip, "-n", sw, "link", "set", member.SwitchPort, "master", Bridge, "up").ConfigureAwait(false);
            await shell.RunAsync(ip, "-n", ns, "addr", "add", member.Address + "/24", "dev", "eth0").ConfigureAwait(false);
            await shell.RunAsync(ip, "-n", ns, "link", "set", "eth0", "up").ConfigureAwait(false);
            var chain = await shell.TryRunAsync(ip, ["netns", "exec", ns, "iptables-restore", "-w", "--noflush"],
                $"*filter\n:{Chain} - [0:0]\n-A INPUT -j {Chain}\nCOMMIT\n").ConfigureAwait(false);
            if (chain.ExitCode != 0)
            {
                throw new LabCommandException(chain);
            }

            members.Add(member);
        }

        var (netem, netemReason) = await ProbeNetemAsync(sw, shell).ConfigureAwait(false);
        shell.Note($"lab {options.Prefix}: {string.Join(", ", members.Select(m => $"{m.Name}={m.Address}"))}; netem {(netem ? "available" : "unavailable: " + netemReason)}");
        return new LabDescription
        {
            Mode = LabMode.Namespaces,
            Prefix = options.Prefix,
            Subnet = options.Subnet + ".0/24",
            SwitchNamespace = sw,
            Members = members,
            NetemAvailable = netem,
            NetemReason = netemReason,
            OutDir = options.OutDir ?? "",
            CommandLog = shell.LogFile,
        };
    }

    /// <summary>Whether tc's netem qdisc exists (this kernel may lack sch_netem): tried on the switch namespace's lo.</summary>
    private static async Task<(bool Available, string? Reason)> ProbeNetemAsync(string sw, LabShell shell)
    {
        var add = await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", sw, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).ConfigureAwait(false);
        if (add.ExitCode != 0)
        {
            return (false, add.Output.Trim());
        }

        await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "exec", sw, "tc", "qdisc", "del", "dev", "lo", "root"]).ConfigureAwait(false);
        return (true, null);
    }

    /// <summary>client .2; nK .(10+K); lK .(60+K); etcd .80; any other name from .100 on, in order.</summary>
    private static Dictionary<string, int> AssignHosts(IReadOnlyList<string> names)
    {
        var hosts = new Dictionary<string, int>(StringComparer.Ordinal);
        var next = 100;
        foreach (var name in names)
        {
            var host = name switch
            {
                LabDescription.ClientName => 2,
                "etcd" => 80,
                _ when NumberedPattern().Match(name) is { Success: true } m && int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) is var k
                    && (m.Groups[1].Value == "n" ? k is >= 1 and <= 49 : k is >= 1 and <= 19) => (m.Groups[1].Value == "n" ? 10 : 60) + k,
                _ => next++,
            };
            if (host > 254 || hosts.ContainsValue(host))
            {
                throw new ArgumentException($"no address left for member '{name}'");
            }

            hosts[name] = host;
        }

        return hosts;
    }

    private static async Task KillProcessesInAsync(string ns, LabShell shell)
    {
        // Two passes: a process may have started another (a shell its server) between the listing and the kill.
        for (var pass = 0; pass < 2; pass++)
        {
            var pids = await shell.TryRunAsync(ServerPlacement.IpCommand, ["netns", "pids", ns]).ConfigureAwait(false);
            var list = pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
                .Where(pid => pid > 1 && pid != Environment.ProcessId).ToList();
            if (list.Count == 0)
            {
                return;
            }

            shell.Note($"killing {string.Join(' ', list)} still in {ns}");
            foreach (var pid in list)
            {
                _ = Native.Kill(pid, Native.SIGKILL);
            }

            await WaitGoneAsync(list).ConfigureAwait(false);
        }
    }

    private static async Task WaitGoneAsync(List<int> pids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pids.Exists(pid => Directory.Exists($"/proc/{pid}") && !IsZombie(pid)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>`ip netns list` lines: "NAME" or "NAME (id: N)".</summary>
    internal static IEnumerable<string> ParseNamespaces(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.Split(' ')[0]);

    /// <summary>`ip -o link show` lines: "N: NAME[@PEER]: &lt;FLAGS&gt; ...".</summary>
    internal static IEnumerable<string> ParseLinks(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 3))
            .Where(parts => parts.Length == 3)
            .Select(parts => parts[1].Trim().Split('@')[0]);

    internal static void ValidatePrefix(string prefix)
    {
        if (!PrefixPattern().IsMatch(prefix))
        {
            throw new ArgumentException($"lab prefix '{prefix}' must be 2-24 of [a-z0-9-], start with a letter and end with '-'", nameof(prefix));
        }
    }

    private static void ValidateMember(string name)
    {
        // The switch port is "p-" + name, and an interface name has at most 15 characters.
        if (!MemberPattern().IsMatch(name) || name == "switch" || name == "probe")
        {
            throw new ArgumentException($"lab member name '{name}' must be 1-12 of [a-z0-9] (not 'switch' or 'probe')", nameof(name));
        }
    }

    private static (FileStream Lock, string Path) TakeLock(string prefix)
    {
        var dir = Directory.Exists("/run/lock") ? "/run/lock" : Path.GetTempPath();
        var path = Path.Combine(dir, prefix + "lab.lock");
        try
        {
            // FileShare.None is an exclusive flock on Unix: held until closed, released by the kernel on any exit.
            return (new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None), path);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"another lab with prefix '{prefix}' is running (lock {path} is held)", e);
        }
    }

    private static void ReleaseLock(FileStream lockFile, string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }

        lockFile.Dispose();
    }

    internal static string? FindTool(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return path.Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,22}-$")]
    private static partial Regex PrefixPattern();

    [GeneratedRegex("^[a-z0-9]{1,12}$")]
    private static partial Regex MemberPattern();

    [GeneratedRegex("^(n|l)([0-9]{1,2})$")]
    private static partial Regex NumberedPattern();

    [GeneratedRegex(@"^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){2}$")]
    private static partial Regex SubnetPattern();
}
