using BenchmarkDotNet.Running;
using NsqSharp.Client.Benchmarks;

// `dotnet run -c Release -- alloc <nsqd-tcp-address> [count]` prints allocations per message;
// anything else goes to BenchmarkDotNet (e.g. `-- --filter *Codec*`).
if (args.Length >= 2 && args[0] == "alloc")
{
    var count = args.Length >= 3 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
    return await AllocationReport.RunAsync(args[1], count);
}

BenchmarkSwitcher.FromAssembly(typeof(CodecBenchmarks).Assembly).Run(args);
return 0;
