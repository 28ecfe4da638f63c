using NsqSharp.Common.Protocol;
using NsqSharp.Hosting;
using NsqSharp.Tools.ToNsq;

// to_nsq: publish stdin, split on a delimiter, to an NSQ topic (flags as upstream nsq 1.3.0).
if (!HostCommandLine.TryParse<ToNsqOptions>(args, $"to_nsq v{ProtocolConstants.ProductVersion} - publish stdin to an NSQ topic",
        "Flags may be written Go-style (-topic=x) or GNU-style (--topic x). Example: echo \"one,two\" | to_nsq -delimiter=\",\" -topic=t -nsqd-tcp-address=127.0.0.1:4150",
        out var options, out var exitCode))
{
    return exitCode;
}

if (options.Version)
{
    Console.WriteLine($"to_nsq v{ProtocolConstants.ProductVersion}");
    return 0;
}

using var stop = new ShutdownSignal();

await using var stdin = Console.OpenStandardInput();
return await new ToNsqApp(options, stdin, Console.Error).RunAsync(stop.Token);
