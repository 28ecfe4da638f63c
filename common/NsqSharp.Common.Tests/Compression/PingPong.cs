namespace NsqSharp.Common.Tests.Compression;

/// <summary>
/// Request/response over two compressed streams: each side writes a small message, flushes, and
/// waits for the answer. If Flush did not push every byte to the peer, this would deadlock.
/// </summary>
internal static class PingPong
{
    public static async Task RunAsync(Stream client, Stream server, int rounds)
    {
        Task serverLoop = Task.Run(async () =>
        {
            for (int i = 0; i < rounds; i++)
            {
                byte[] request = await ReadMessageAsync(server);
                byte[] response = [.. "re:"u8, .. request];
                await WriteMessageAsync(server, response, useAsync: i % 2 == 0);
            }
        });

        for (int i = 0; i < rounds; i++)
        {
            byte[] request = System.Text.Encoding.ASCII.GetBytes($"ping {i} " + new string('x', i % 50));
            await WriteMessageAsync(client, request, useAsync: i % 3 != 0);
            byte[] response = await ReadMessageAsync(client);
            if (!response.AsSpan().SequenceEqual([.. "re:"u8, .. request]))
            {
                throw new InvalidOperationException($"round {i}: unexpected response");
            }
        }

        await serverLoop;
    }

    private static async Task WriteMessageAsync(Stream stream, byte[] message, bool useAsync)
    {
        byte[] frame = [(byte)message.Length, .. message];
        if (useAsync)
        {
            await stream.WriteAsync(frame);
            await stream.FlushAsync();
        }
        else
        {
            stream.Write(frame);
            stream.Flush();
        }
    }

    private static async Task<byte[]> ReadMessageAsync(Stream stream)
    {
        byte[] length = await TestPayloads.ReadExactlyAsync(stream, 1, 1);
        return await TestPayloads.ReadExactlyAsync(stream, length[0], 7);
    }
}
