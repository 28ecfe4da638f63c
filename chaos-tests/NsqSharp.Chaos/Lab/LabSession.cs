using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using NsqSharp.Testing;

namespace NsqSharp.Chaos.Lab;

/// <summary>How <see cref="LabSession.RunInLabAsync"/> makes the lab and runs the child.</summary>
public sealed record LabSessionOptions
{
    /// <summary>The run's output directory: lab.json, lab-commands.log, and whatever the child writes.</summary>
    public required string OutDir { get; init; }

    public string Prefix { get; init; } = NetworkLab.DefaultPrefix;

    /// <summary>The lab's members besides the client (default: the chaos cluster's, etcd l1 l2 n1 n2 n3).</summary>
    public IReadOnlyList<string> Members { get; init; } = new LabOptions().Members;

    public string Subnet { get; init; } = new LabOptions().Subnet;

    /// <summary>Skip the namespaces even where they could be made (the child gets a loopback-only description).</summary>
    public bool ForceLoopback { get; init; }

    /// <summary>Where the parent says what it does (lab made, child started, exit, teardown); null: nowhere.</summary>
    public TextWriter? Log { get; init; } = Console.Error;

    /// <summary>
    /// Forward this process's SIGINT and SIGTERM (and SIGHUP, as SIGTERM) to the child (a second one kills it). On by
    /// default; the tests turn it off, since it takes the signals of the whole process.
    /// </summary>
    public bool ForwardSignals { get; init; } = true;

    /// <summary>After a forwarded stop (signal or cancellation) the child has this long before it is killed.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The child's command for a description file and the child arguments; default: this executable again with
    /// --in-lab=PATH before the arguments. It is run inside the client namespace (unless loopback only).
    /// </summary>
    public Func<string, IReadOnlyList<string>, (string File, IReadOnlyList<string> Args)>? ChildCommand { get; init; }
}

/// <summary>
/// One chaos run's lab, across two processes. The parent (nsq_chaos as started, in the host namespace) sweeps what a
/// crashed run left, makes the lab, writes its description to OUT/lab.json and runs itself again inside the client
/// namespace as `ip netns exec PREFIXclient nsq_chaos --in-lab=OUT/lab.json ARGS...`, in a session of its own (so a
/// terminal's Ctrl-C reaches it once, forwarded). It waits, forwarding SIGINT/SIGTERM, and when the child exits (or
/// crashes) tears the lab down and returns the child's exit code (128+N for signal N). The child, inside the lab,
/// reaches every member address directly and does the rest (cluster, workload, nemesis). Where namespaces cannot be
/// made the description says loopback only (with the reason) and the child runs without a namespace.
/// </summary>
public static class LabSession
{
    /// <summary>The child's option naming the description file: --in-lab=PATH.</summary>
    public const string InLabOption = "--in-lab";

    /// <summary>Parent side: makes the lab, runs the child in it, tears the lab down; returns the child's exit code.</summary>
    /// <param name="childArgs">The child's arguments (the original ones, without --in-lab).</param>
    /// <param name="options">Where and how.</param>
    /// <param name="ct">Cancelling stops the child like SIGTERM (then kills it after the grace).</param>
    public static async Task<int> RunInLabAsync(string[] childArgs, LabSessionOptions options, CancellationToken ct = default)
    {
        Directory.CreateDirectory(options.OutDir);
        var outDir = Path.GetFullPath(options.OutDir);
        var descriptionPath = Path.Combine(outDir, "lab.json");
        var support = options.ForceLoopback
            ? new LabSupport(false, "loopback forced")
            : await NetworkLab.ProbeSupportAsync(options.Prefix).ConfigureAwait(false);
        NetworkLab? lab = null;
        try
        {
            LabDescription description;
            if (support.Namespaces)
            {
                lab = await NetworkLab.CreateAsync(new LabOptions
                {
                    Prefix = options.Prefix,
                    Members = options.Members,
                    Subnet = options.Subnet,
                    OutDir = outDir,
                }).ConfigureAwait(false);
                description = lab.Description;
                if (lab.Swept.Count > 0)
                {
                    options.Log?.WriteLine($"nsq_chaos: removed a previous run's leftovers: {string.Join(", ", lab.Swept)}");
                }

                options.Log?.WriteLine($"nsq_chaos: lab {description.Prefix}* up: " +
                    string.Join(", ", description.Members.Select(m => $"{m.Name}={m.Address}")) +
                    (description.NetemAvailable ? "" : $"; netem unavailable ({description.NetemReason}), delays off, slow links by tbf"));
            }
            else
            {
                description = LabDescription.LoopbackOnly(options.Prefix, support.Reason ?? "unsupported", outDir);
                options.Log?.WriteLine($"nsq_chaos: no network namespaces ({support.Reason}): loopback only, kill and pause faults only");
            }

            description.Save(descriptionPath);
            var (file, args) = options.ChildCommand?.Invoke(descriptionPath, childArgs) ?? SelfCommand(descriptionPath, childArgs);
            if (description.Mode == LabMode.Namespaces)
            {
                (file, args) = new ServerPlacement { NetworkNamespace = description.ClientNamespace }.Wrap(file, args);
            }

            if (NetworkLab.FindTool("setsid") is { } setsid)
            {
                (file, args) = (setsid, [file, .. args]);
            }

            return await RunChildAsync(file, args, options, ct).ConfigureAwait(false);
        }
        finally
        {
            if (lab != null)
            {
                await lab.DisposeAsync().ConfigureAwait(false);
                options.Log?.WriteLine($"nsq_chaos: lab {options.Prefix}* torn down");
            }
        }
    }

    /// <summary>Child side: whether the arguments carry --in-lab=PATH; rest is them without it.</summary>
    public static bool TryGetDescriptionPath(IReadOnlyList<string> args, out string path, out string[] rest)
    {
        path = "";
        var others = new List<string>();
        var found = false;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i].StartsWith(InLabOption + "=", StringComparison.Ordinal))
            {
                path = args[i][(InLabOption.Length + 1)..];
                found = true;
            }
            else if (args[i] == InLabOption && i + 1 < args.Count)
            {
                path = args[++i];
                found = true;
            }
            else
            {
                others.Add(args[i]);
            }
        }

        rest = [.. others];
        return found;
    }

    /// <summary>This executable again: the apphost, or dotnet with the entry assembly.</summary>
    private static (string File, IReadOnlyList<string> Args) SelfCommand(string descriptionPath, IReadOnlyList<string> childArgs)
    {
        var exe = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        string[] inLab = [$"{InLabOption}={descriptionPath}", .. childArgs];
        return Path.GetFileNameWithoutExtension(exe) == "dotnet"
            ? (exe, [Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("no entry assembly"), .. inLab])
            : (exe, inLab);
    }

    private static async Task<int> RunChildAsync(string file, IReadOnlyList<string> args, LabSessionOptions options, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var child = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        options.Log?.WriteLine($"nsq_chaos: child {child.Id}: {file} {string.Join(' ', args)}");
        var stops = 0;
        using var grace = new CancellationTokenSource();
        void Stop(int signal)
        {
            if (Interlocked.Increment(ref stops) == 1)
            {
                options.Log?.WriteLine($"nsq_chaos: stopping the child (signal {signal}), {options.StopGrace.TotalSeconds:0} s before it is killed");
                _ = Native.Kill(child.Id, signal);
                grace.CancelAfter(options.StopGrace);
            }
            else
            {
                Kill(child);
            }
        }

        var registrations = new List<PosixSignalRegistration>();
        if (options.ForwardSignals)
        {
            // SIGHUP (the terminal went away) stops the child as SIGTERM does: the lab must still come down.
            foreach (var (posix, signal) in new[] { (PosixSignal.SIGINT, Native.SIGINT), (PosixSignal.SIGTERM, Native.SIGTERM), (PosixSignal.SIGHUP, Native.SIGTERM) })
            {
                registrations.Add(PosixSignalRegistration.Create(posix, context =>
                {
                    context.Cancel = true; // the parent stays to tear the lab down
                    Stop(signal);
                }));
            }
        }

        using var onCancel = ct.Register(() => Stop(Native.SIGTERM));
        using var onGrace = grace.Token.Register(() =>
        {
            options.Log?.WriteLine("nsq_chaos: the child did not stop within the grace, killing it");
            Kill(child);
        });
        try
        {
            await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            options.Log?.WriteLine($"nsq_chaos: child exited with {child.ExitCode}");
            return child.ExitCode;
        }
        finally
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }

            Kill(child);
        }
    }

    private static void Kill(Process child)
    {
        try
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }
}

/// <summary>
/// The child's side of a <see cref="LabSession"/>: the lab's description, the faults over it (null when loopback
/// only), how to reach its addresses (directly: the child is inside the lab) and a token that fires when the child
/// should stop: SIGINT or SIGTERM (forwarded by the parent), or the parent gone (reparented).
/// </summary>
public sealed partial class LabChild : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<PosixSignalRegistration> _signals = [];
    private readonly Timer? _parentWatch;
    private readonly int _parent;

    private LabChild(LabDescription description, bool handleSignals, bool watchParent)
    {
        Description = description;
        Faults = description.Mode == LabMode.Namespaces ? new NetworkFaults(description) : null;
        _parent = GetPpid();
        if (handleSignals)
        {
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            {
                _signals.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    if (!_stopping.IsCancellationRequested)
                    {
                        context.Cancel = true; // first one: a graceful stop; a second one ends the process
                        StopReason = signal.ToString();
                        _stopping.Cancel();
                    }
                }));
            }
        }

        if (watchParent)
        {
            _parentWatch = new Timer(_ =>
            {
                if (GetPpid() != _parent && !_stopping.IsCancellationRequested)
                {
                    StopReason = "parent gone";
                    _stopping.Cancel();
                }
            }, null, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
        }
    }

    public LabDescription Description { get; }

    /// <summary>The network faults, or null when the lab is loopback only.</summary>
    public NetworkFaults? Faults { get; }

    /// <summary>The child is inside the lab: its sockets reach every member.</summary>
    public LabNetworkAccess Access => LabNetworkAccess.Direct;

    /// <summary>Fires on the first SIGINT/SIGTERM or when the parent is gone.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Why <see cref="Stopping"/> fired ("SIGINT", "SIGTERM", "parent gone"), or null.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Loads the description the parent passed (--in-lab=PATH).</summary>
    public static LabChild Attach(string descriptionPath, bool handleSignals = true, bool watchParent = true) =>
        new(LabDescription.Load(descriptionPath), handleSignals, watchParent);

    /// <summary>Attach for the arguments if they carry --in-lab, else null (then this is the parent).</summary>
    public static LabChild? FromArgs(IReadOnlyList<string> args, out string[] rest, bool handleSignals = true) =>
        LabSession.TryGetDescriptionPath(args, out var path, out rest) ? Attach(path, handleSignals) : null;

    public void Dispose()
    {
        _parentWatch?.Dispose();
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        _stopping.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetPpid();
}
