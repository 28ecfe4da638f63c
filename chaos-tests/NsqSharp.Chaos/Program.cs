// nsq_chaos: the Jepsen-style harness behind chaos-tests/run.sh. Being built (issue 11): only the checker so far.
using NsqSharp.Chaos.Checking;

string? check = null, outDir = null;
var other = false;
foreach (var arg in args)
{
    if (arg.StartsWith("--check=", StringComparison.Ordinal))
    {
        check = arg["--check=".Length..];
    }
    else if (arg.StartsWith("--out=", StringComparison.Ordinal))
    {
        outDir = arg["--out=".Length..];
    }
    else
    {
        other = true;
    }
}

if (check is not null && !other)
{
    return CheckCommand.Run(check, outDir, Console.Out, Console.Error);
}

Console.Error.WriteLine("nsq_chaos: not built yet (only --check=HISTORY [--out=DIR] works)");
return 2;
