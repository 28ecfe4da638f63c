using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Micro-benchmarks for hot paths. Every public benchmark class in this assembly is picked up:
/// <c>dotnet run -c Release --project bench/NsqSharp.Bench.Micro -- --filter '*Crc32C*'</c> (or no args for a menu).
/// Benchmarks run in-process by default (no per-benchmark project generation, which needs nothing from the network);
/// pass <c>--out-of-process</c> to use BenchmarkDotNet's default toolchain.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        IConfig config = DefaultConfig.Instance;
        if (Array.IndexOf(args, "--out-of-process") >= 0)
        {
            args = Array.FindAll(args, a => a != "--out-of-process");
        }
        else
        {
            config = config.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault());
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
