// nsq_chaos: the Jepsen-style harness behind chaos-tests/run.sh (chaos-tests/README.md). As started it makes the
// network-namespace lab and runs itself again inside it (--in-lab); that child runs the cluster, workload, nemesis
// and checker. The last line printed is the checker's JSON object; exit 0 iff the history is valid.
using System.Globalization;
using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.Cli;
using NsqSharp.Chaos.Lab;
using NsqSharp.Chaos.Scenarios;
using NsqSharp.Common.Cli;
using NsqSharp.Hosting;

var child = LabChild.FromArgs(args, out var rest);
if (!HostCommandLine.TryParse(rest, "nsq_chaos: a Jepsen-style harness for an NsqSharp cluster",
        "usage: chaos-tests/run.sh --scenario=NAME [--time=60s] [--seed=N] [--out=DIR] | --scenario=list | --check=HISTORY.jsonl [--out=DIR]",
        out ChaosOptions options, out var exitCode))
{
    return exitCode;
}

if (options.Check is { } history)
{
    return CheckCommand.Run(history, options.Out, Console.Out, Console.Error);
}

if (options.Scenario is null or "list")
{
    foreach (var s in ScenarioCatalog.All)
    {
        Console.WriteLine($"{s.Name,-18} {s.Description} (default {s.DefaultTime.TotalSeconds:F0} s{(s.NeedsNetwork ? ", needs network namespaces" : "")})");
    }

    return options.Scenario is null ? 2 : 0;
}

var scenario = ScenarioCatalog.Find(options.Scenario);
if (scenario is null)
{
    Console.Error.WriteLine($"nsq_chaos: unknown scenario '{options.Scenario}' (--scenario=list lists them)");
    return 2;
}

TimeSpan time;
try
{
    time = options.Time.Length == 0 ? scenario.DefaultTime : GoDuration.ParseFlag("time", options.Time);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"nsq_chaos: {e.Message}");
    return 2;
}

var seed = options.Seed ?? Random.Shared.Next(1, 1_000_000);
var outDir = Path.GetFullPath(options.Out ?? Path.Combine("chaos-out",
    $"{scenario.Name}-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}"));
if (child is null)
{
    // Parent: make the lab, run this same command inside it, tear the lab down.
    string[] childArgs = [.. rest.Where(a => !a.StartsWith("--seed=", StringComparison.Ordinal) && !a.StartsWith("--out=", StringComparison.Ordinal)),
        $"--seed={seed}", $"--out={outDir}"];
    try
    {
        return await LabSession.RunInLabAsync(childArgs, new LabSessionOptions { OutDir = outDir, ForceLoopback = options.Loopback });
    }
    catch (InvalidOperationException e)
    {
        Console.Error.WriteLine($"nsq_chaos: {e.Message}"); // e.g. another run holds the lab
        return 2;
    }
}

using (child)
{
    if (scenario.NeedsNetwork && child.Faults is null)
    {
        Console.Error.WriteLine($"nsq_chaos: {scenario.Name} needs network namespaces ({child.Description.LoopbackReason})");
        return 2;
    }

    var run = new ScenarioRun
    {
        Scenario = scenario,
        Time = time,
        Seed = seed,
        OutDir = outDir,
        ConsumeAfter = options.ConsumeAfter,
        NsqdArgs = [.. options.NsqdArgs, .. options.UnsafeBroker ? ["--debug-unsafe-ack-leader-only"] : Array.Empty<string>()],
    };
    return await new ScenarioRunner(run, child.Description, child.Faults, Console.Out, Console.Error).RunAsync(child.Stopping);
}
