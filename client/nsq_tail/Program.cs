using NsqSharp.Common.Protocol;
using NsqSharp.Hosting;
using NsqSharp.Tools.Tail;

// nsq_tail: consume NSQ topics and print message bodies to stdout (flags as upstream nsq 1.3.0).
if (!HostCommandLine.TryParse<TailOptions>(args, $"nsq_tail v{ProtocolConstants.ProductVersion} - print messages of NSQ topics to stdout",
        "Flags may be written Go-style (-topic=x) or GNU-style (--topic x).",
        out var options, out var exitCode, shortNames: TailOptions.ShortNames))
{
    return exitCode;
}

if (options.Version)
{
    Console.WriteLine($"nsq_tail v{ProtocolConstants.ProductVersion}");
    return 0;
}

using var stop = new ShutdownSignal();

await using var stdout = Console.OpenStandardOutput();
return await new TailApp(options, stdout, Console.Error).RunAsync(stop.Token);
