using NsqSharp.Testing;

namespace NsqSharp.Client.Tests.Integration;

/// <summary>One nsqd shared by the tests of a class (each test uses its own topic).</summary>
public sealed class NsqdFixture : IAsyncLifetime
{
    private NsqdProcess? _nsqd;

    public NsqdProcess Nsqd => _nsqd ?? throw new InvalidOperationException("nsqd is not built");

    public async Task InitializeAsync()
    {
        if (TestServers.NsqdPath != null)
        {
            _nsqd = await TestServers.StartNsqdAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_nsqd != null)
        {
            await _nsqd.DisposeAsync();
        }
    }

    public static string UniqueTopic(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(64, prefix.Length + 33)];
}
