using System.Text;

namespace NsqSharp.Common.Tests.Compression;

internal static class TestPayloads
{
    public static byte[] Random(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Text-like data with repeats, so Snappy/deflate actually compress it.</summary>
    public static byte[] Compressible(int length, int seed)
    {
        var random = new Random(seed);
        string[] words = ["nsq", "topic", "channel", "message", "PUB", "SUB", "RDY", "FIN", "REQ", "{\"id\":", "0123456789"];
        var sb = new StringBuilder(length + 32);
        while (sb.Length < length)
        {
            sb.Append(words[random.Next(words.Length)]).Append(random.Next(4) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    /// <summary>Reads until <paramref name="count"/> bytes arrived, in reads of at most <paramref name="maxRead"/>.</summary>
    public static byte[] ReadExactly(Stream stream, int count, int maxRead)
    {
        byte[] result = new byte[count];
        int total = 0;
        while (total < count)
        {
            int n = stream.Read(result, total, Math.Min(maxRead, count - total));
            if (n == 0)
            {
                throw new EndOfStreamException($"got {total} of {count}");
            }

            total += n;
        }

        return result;
    }

    public static async Task<byte[]> ReadExactlyAsync(Stream stream, int count, int maxRead)
    {
        byte[] result = new byte[count];
        int total = 0;
        while (total < count)
        {
            int n = await stream.ReadAsync(result.AsMemory(total, Math.Min(maxRead, count - total)));
            if (n == 0)
            {
                throw new EndOfStreamException($"got {total} of {count}");
            }

            total += n;
        }

        return result;
    }
}
