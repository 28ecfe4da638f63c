using System.Globalization;
using Microsoft.Extensions.Logging;
using NsqSharp.Client;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Tools.Tail;

/// <summary>Consumes topics and prints each message body to stdout, one per line (upstream nsq_tail).</summary>
internal sealed class TailApp(TailOptions options, Stream output, TextWriter errors)
{
    private readonly object _writeGate = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _shown;

    /// <summary>Runs until <paramref name="stop"/> fires or <c>--n</c> messages were shown. Returns the exit code.</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        var topics = options.Topics.ToList();
        if (topics.Count == 0)
        {
            return Fatal("--topic is required");
        }

        var nsqds = options.NsqdTcpAddresses.ToList();
        var lookupds = options.LookupdHttpAddresses.ToList();
        if (nsqds.Count == 0 && lookupds.Count == 0)
        {
            return Fatal("--nsqd-tcp-address or --lookupd-http-address required");
        }

        if (nsqds.Count > 0 && lookupds.Count > 0)
        {
            return Fatal("use --nsqd-tcp-address or --lookupd-http-address not both");
        }

        var channel = string.IsNullOrEmpty(options.Channel)
            ? "tail" + Random.Shared.Next(999999).ToString("D6", CultureInfo.InvariantCulture) + "#ephemeral"
            : options.Channel;

        var maxInFlight = options.MaxInFlight;
        if (options.TotalMessages > 0 && options.TotalMessages < maxInFlight)
        {
            maxInFlight = options.TotalMessages; // don't ask for more messages than we want
        }

        NsqConfig config;
        try
        {
            config = new NsqConfig();
            foreach (var flag in options.ReaderOptions.Concat(options.ConsumerOptions))
            {
                config.ApplyFlag(flag);
            }

            config.UserAgent = $"nsq_tail/{ProtocolConstants.ProductVersion} NsqSharp.Client/{ProtocolConstants.ProductVersion}";
            config.MaxInFlight = maxInFlight;
        }
        catch (ArgumentException e)
        {
            return Fatal(e.Message);
        }

        var logger = new StderrLogger(LogLevel.Warning);
        var consumers = new List<Consumer>();
        try
        {
            foreach (var topic in topics)
            {
                var consumer = new Consumer(topic, channel, config, logger);
                consumers.Add(consumer);
                consumer.AddHandler((message, _) => HandleAsync(topic, message));
                await consumer.ConnectToNsqdsAsync(nsqds, stop).ConfigureAwait(false);
                await consumer.ConnectToNsqLookupdsAsync(lookupds, stop).ConfigureAwait(false);
            }

            await _done.Task.WaitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is NsqException or ArgumentException)
        {
            await StopAllAsync(consumers).ConfigureAwait(false);
            return Fatal(e.Message);
        }

        await StopAllAsync(consumers).ConfigureAwait(false);
        return 0;
    }

    private Task HandleAsync(string topic, Message message)
    {
        var count = Interlocked.Increment(ref _shown);
        if (options.TotalMessages > 0 && count > options.TotalMessages)
        {
            message.RequeueWithoutBackoff(TimeSpan.Zero); // over the limit: give it back untouched
            return Task.CompletedTask;
        }

        lock (_writeGate)
        {
            if (options.PrintTopic)
            {
                output.Write(System.Text.Encoding.UTF8.GetBytes(topic + " | "));
            }

            output.Write(message.Body.Span);
            output.WriteByte((byte)'\n');
            output.Flush();
        }

        if (options.TotalMessages > 0 && count == options.TotalMessages)
        {
            message.Finish(); // answered before the stop below sends CLS
            _done.TrySetResult();
        }

        return Task.CompletedTask;
    }

    private static async Task StopAllAsync(List<Consumer> consumers)
    {
        foreach (var consumer in consumers)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private int Fatal(string message)
    {
        errors.WriteLine(message);
        return 1;
    }
}
