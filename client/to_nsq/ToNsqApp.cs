using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using NsqSharp.Client;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Tools.ToNsq;

/// <summary>
/// Reads stdin, splits it on the delimiter and publishes every non-empty piece to the topic on every given
/// nsqd (upstream to_nsq). Publishes are pipelined (a bounded window) instead of one round trip per line.
/// </summary>
internal sealed class ToNsqApp(ToNsqOptions options, Stream input, TextWriter errors)
{
    private const int Window = 256;

    public async Task<int> RunAsync(CancellationToken stop)
    {
        if (string.IsNullOrEmpty(options.Topic))
        {
            return Fatal("--topic required");
        }

        if (options.Delimiter.Length != 1 || options.Delimiter[0] > 0xFF)
        {
            return Fatal("--delimiter must be a single byte");
        }

        var addresses = options.NsqdTcpAddresses.Distinct().ToList();
        if (addresses.Count == 0)
        {
            return Fatal("--nsqd-tcp-address required");
        }

        NsqConfig config;
        try
        {
            config = new NsqConfig();
            foreach (var flag in options.ProducerOptions)
            {
                config.ApplyFlag(flag);
            }

            config.UserAgent = $"to_nsq/{ProtocolConstants.ProductVersion} NsqSharp.Client/{ProtocolConstants.ProductVersion}";
        }
        catch (ArgumentException e)
        {
            return Fatal(e.Message);
        }

        var logger = new StderrLogger(LogLevel.Warning);
        var producers = new List<Producer>();
        try
        {
            foreach (var address in addresses)
            {
                producers.Add(new Producer(address, config, logger));
            }

            var limiter = options.Rate >= 1 ? new RateLimiter(options.Rate, TimeProvider.System) : null;
            if (limiter != null)
            {
                errors.WriteLine($"Throttling messages rate to max:{options.Rate}/second");
            }

            await PublishAllAsync(producers, (byte)options.Delimiter[0], limiter, stop).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is NsqException or ArgumentException)
        {
            return Fatal(e.Message);
        }
        finally
        {
            foreach (var producer in producers)
            {
                await producer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task PublishAllAsync(List<Producer> producers, byte delimiter, RateLimiter? limiter, CancellationToken stop)
    {
        var topic = options.Topic!;
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(leaveOpen: true));
        var inFlight = new Queue<Task>();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(stop).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (TryTakeLine(ref buffer, delimiter, result.IsCompleted, out var line))
                {
                    if (line.IsEmpty)
                    {
                        continue; // empty pieces are skipped, as upstream does
                    }

                    var body = line.ToArray(); // the pipe reuses its memory; the publish may outlive it
                    foreach (var producer in producers)
                    {
                        if (limiter != null)
                        {
                            await limiter.WaitAsync(stop).ConfigureAwait(false);
                        }

                        inFlight.Enqueue(producer.PublishAsync(topic, body, stop).AsTask());
                        if (inFlight.Count >= Window)
                        {
                            await inFlight.Dequeue().ConfigureAwait(false);
                        }
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            while (inFlight.Count > 0)
            {
                await inFlight.Dequeue().ConfigureAwait(false);
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Takes the next delimited piece (without its delimiter); at end of input the unterminated rest.</summary>
    internal static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, byte delimiter, bool atEnd, out ReadOnlySequence<byte> line)
    {
        var position = buffer.PositionOf(delimiter);
        if (position != null)
        {
            line = buffer.Slice(0, position.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
            return true;
        }

        if (atEnd && !buffer.IsEmpty)
        {
            line = buffer;
            buffer = buffer.Slice(buffer.End);
            return true;
        }

        line = default;
        return false;
    }

    private int Fatal(string message)
    {
        errors.WriteLine(message);
        return 1;
    }
}
