using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// A publish whose disk write fails is a server error that says what happened, not 503 EXITING (nsqd
/// is not shutting down). The write is made to fail as a full disk would: nsqd runs with a small
/// RLIMIT_FSIZE, so appending past it fails with EFBIG.
/// </summary>
public sealed class PublishFailureTests
{
    [Fact(Timeout = 60_000)]
    public async Task AFailedDiskWriteIs500WithTheCause()
    {
        await using var nsqd = await NsqdInstance.StartAsync([], new ProcessLimits(FileSizeBytes: 64 * 1024));
        var body = new byte[8 * 1024];
        HttpReply? failed = null;
        for (var i = 0; i < 20 && failed == null; i++)
        {
            var reply = await nsqd.PostAsync("/pub?topic=full", body);
            if (reply.Status != 200)
            {
                failed = reply;
            }
        }

        Assert.NotNull(failed);
        Assert.Equal(500, failed.Status);
        Assert.Equal("INTERNAL_ERROR", failed.Message);
        Assert.StartsWith("PUB failed ", failed.Json.GetProperty("error").GetString(), StringComparison.Ordinal);

        // the partition stays failed: MPUB says so too, and /ping reports the unhealthy disk
        var mpub = await nsqd.PostAsync("/mpub?topic=full", "a\nb\n");
        Assert.Equal(500, mpub.Status);
        Assert.Equal("INTERNAL_ERROR", mpub.Message);
        Assert.StartsWith("MPUB failed ", mpub.Json.GetProperty("error").GetString(), StringComparison.Ordinal);
        var ping = await nsqd.GetAsync("/ping");
        Assert.Equal(500, ping.Status);
        Assert.StartsWith("NOK - ", ping.Body, StringComparison.Ordinal);
    }
}
