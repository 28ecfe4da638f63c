using NsqSharp.Testing;

namespace NsqSharp.Client.Tests.Integration;

/// <summary>
/// A real nsqd or nsqlookupd process on 127.0.0.1 free ports, started with upstream's flag names so the same
/// tests run against upstream nsq 1.3.0: point NSQSHARP_TEST_NSQD / NSQSHARP_TEST_NSQLOOKUPD at its binaries.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly ManagedProcess _process;
    private readonly TempDirectory? _data;

    private ServerProcess(ManagedProcess process, TempDirectory? data, int tcpPort, int httpPort)
    {
        _process = process;
        _data = data;
        TcpPort = tcpPort;
        HttpPort = httpPort;
    }

    public int TcpPort { get; }

    public int HttpPort { get; }

    public string TcpAddress => $"127.0.0.1:{TcpPort}";

    public string HttpAddress => $"127.0.0.1:{HttpPort}";

    public string Output => _process.Output;

    public static string? NsqdPath => Find("NSQSHARP_TEST_NSQD", "nsqd");

    public static string? NsqlookupdPath => Find("NSQSHARP_TEST_NSQLOOKUPD", "nsqlookupd");

    public static Task<ServerProcess> StartNsqdAsync(params string[] extraArgs)
    {
        var data = new TempDirectory("nsqclient-nsqd");
        return StartAsync(NsqdPath!, data, extraArgs.Append($"--data-path={data.Path}"));
    }

    public static Task<ServerProcess> StartNsqlookupdAsync() => StartAsync(NsqlookupdPath!, null, []);

    public async ValueTask DisposeAsync()
    {
        await Task.Run(() =>
        {
            if (!_process.Terminate(TimeSpan.FromSeconds(10)))
            {
                _process.KillHard();
            }

            _process.Dispose();
        });
        _data?.Dispose();
    }

    private static async Task<ServerProcess> StartAsync(string path, TempDirectory? data, IEnumerable<string> extraArgs)
    {
        var tcp = FreePort.Next();
        var http = FreePort.Next();
        string[] args =
        [
            $"--tcp-address=127.0.0.1:{tcp}",
            $"--http-address=127.0.0.1:{http}",
            "--broadcast-address=127.0.0.1",
            .. extraArgs,
        ];
        var process = ManagedProcess.Start(path, args);
        try
        {
            await process.WaitForHttpAsync($"http://127.0.0.1:{http}/ping", TimeSpan.FromSeconds(30));
        }
        catch
        {
            process.Dispose();
            data?.Dispose();
            throw;
        }

        return new ServerProcess(process, data, tcp, http);
    }

    private static string? Find(string variable, string name)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } overridden)
        {
            return overridden;
        }

        try
        {
            return RepoPaths.Executable(name);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}

/// <summary>
/// A test that needs a real nsqd; skipped (with the reason) when none is built, except under CI
/// (CI=true), where a missing executable must fail the run rather than quietly skip it.
/// </summary>
public sealed class NsqdFactAttribute : FactAttribute
{
    internal static bool UnderCi => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && ci != "false";

    public NsqdFactAttribute()
    {
        if (ServerProcess.NsqdPath == null && !UnderCi)
        {
            Skip = "nsqd is not built (dotnet build NsqSharp.sln) and NSQSHARP_TEST_NSQD is not set";
        }
    }
}

/// <summary>A test that needs real nsqd and nsqlookupd processes.</summary>
public sealed class NsqlookupdFactAttribute : FactAttribute
{
    public NsqlookupdFactAttribute()
    {
        if ((ServerProcess.NsqdPath == null || ServerProcess.NsqlookupdPath == null) && !NsqdFactAttribute.UnderCi)
        {
            Skip = "nsqd/nsqlookupd are not built and NSQSHARP_TEST_NSQD/NSQSHARP_TEST_NSQLOOKUPD are not set";
        }
    }
}
