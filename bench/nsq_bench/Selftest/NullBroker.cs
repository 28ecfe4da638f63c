using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Selftest;

/// <summary>
/// A do-nothing TCP V2 server for measuring nsq_bench itself: answers IDENTIFY/SUB/PUB/MPUB at once
/// without storing anything, and streams identical message frames to subscribers as fast as RDY and
/// FINs allow. Whatever rate the tool reaches against it is the tool's own ceiling on this machine.
/// One thread per connection (plus one streaming thread per subscriber); loopback only.
/// </summary>
internal sealed class NullBroker : IDisposable
{
    private const int FramesPerChunk = 64;
    private static readonly byte[] OkFrame = FrameWriter.ToArray(FrameType.Response, ProtocolConstants.Ok);
    private static readonly byte[] IdentifyFrame =
        FrameWriter.ToArray(FrameType.Response, """{"max_rdy_count":2500,"version":"1.3.0","msg_timeout":60000}"""u8);

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _messageChunk;
    private readonly List<Socket> _clients = [];
    private volatile bool _stopped;

    public NullBroker(int messageSize)
    {
        var body = new byte[messageSize];
        Array.Fill(body, (byte)'a');
        var frameLength = MessageFrame.FrameLength(messageSize);
        _messageChunk = new byte[frameLength * FramesPerChunk];
        for (var i = 0; i < FramesPerChunk; i++)
        {
            MessageFrame.Write(_messageChunk.AsSpan(i * frameLength), DateTime.UtcNow.Ticks, 1, "0000000000000001"u8, body);
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        new Thread(AcceptLoop) { IsBackground = true, Name = "null-broker-accept" }.Start();
    }

    public string Address => _listener.LocalEndPoint!.ToString()!;

    public void Dispose()
    {
        _stopped = true;
        _listener.Dispose();
        lock (_clients)
        {
            foreach (var c in _clients)
            {
                c.Dispose();
            }
        }
    }

    private void AcceptLoop()
    {
        while (!_stopped)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            client.NoDelay = true;
            lock (_clients)
            {
                _clients.Add(client);
            }

            new Thread(() => Serve(client)) { IsBackground = true, Name = "null-broker-conn" }.Start();
        }
    }

    private void Serve(Socket socket)
    {
        var connection = new Connection(socket, _messageChunk);
        try
        {
            connection.Run();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidDataException)
        {
            // client went away
        }
        finally
        {
            connection.Stop();
            socket.Dispose();
        }
    }

    /// <summary>One client: a command parser over a reusable buffer, and a streaming thread once subscribed.</summary>
    private sealed class Connection(Socket socket, byte[] messageChunk)
    {
        private readonly byte[] _buffer = new byte[256 * 1024];
        private readonly AutoResetEvent _room = new(false);
        private int _start;
        private int _end;
        private long _ready;
        private long _inFlight;
        private volatile bool _stopped;

        public void Run()
        {
            Need(4);
            _start += 4; // magic
            while (true)
            {
                var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                if (newline < 0)
                {
                    Receive();
                    continue;
                }

                var line = _buffer.AsSpan(_start, newline);
                _start += newline + 1;
                Execute(line);
            }
        }

        public void Stop()
        {
            _stopped = true;
            _room.Set();
        }

        private void Execute(ReadOnlySpan<byte> line)
        {
            var name = CommandReader.Name(line);
            if (CommandReader.HasBody(name))
            {
                Skip(ReadSize()); // nothing is stored
            }

            if (name.SequenceEqual("FIN"u8))
            {
                if (Interlocked.Decrement(ref _inFlight) <= Volatile.Read(ref _ready) - FramesPerChunk)
                {
                    _room.Set();
                }
            }
            else if (name.SequenceEqual("PUB"u8) || name.SequenceEqual("MPUB"u8))
            {
                Send(OkFrame);
            }
            else if (name.SequenceEqual("RDY"u8))
            {
                CommandReader.SplitParams(line, out var count, out _);
                CommandReader.TryParseBase10(count, out var ready);
                Volatile.Write(ref _ready, (long)Math.Min(ready, long.MaxValue));
                _room.Set();
            }
            else if (name.SequenceEqual("SUB"u8))
            {
                Send(OkFrame);
                new Thread(Stream) { IsBackground = true, Name = "null-broker-stream" }.Start();
            }
            else if (name.SequenceEqual("IDENTIFY"u8))
            {
                Send(IdentifyFrame);
            }
        }

        /// <summary>Sends chunks of message frames while RDY leaves room for a whole chunk.</summary>
        private void Stream()
        {
            try
            {
                while (!_stopped)
                {
                    if (Interlocked.Read(ref _inFlight) + FramesPerChunk > Volatile.Read(ref _ready))
                    {
                        _room.WaitOne(100);
                        continue;
                    }

                    Interlocked.Add(ref _inFlight, FramesPerChunk);
                    Send(messageChunk);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // client went away
            }
        }

        private void Send(byte[] data)
        {
            var span = data.AsSpan();
            while (!span.IsEmpty)
            {
                span = span[socket.Send(span, SocketFlags.None)..];
            }
        }

        private int ReadSize()
        {
            Need(4);
            var size = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start));
            _start += 4;
            return size;
        }

        private void Skip(int count)
        {
            while (count > 0)
            {
                if (_start == _end)
                {
                    Receive();
                }

                var take = Math.Min(count, _end - _start);
                _start += take;
                count -= take;
            }
        }

        private void Need(int count)
        {
            while (_end - _start < count)
            {
                Receive();
            }
        }

        private void Receive()
        {
            if (_start == _end)
            {
                _start = _end = 0;
            }
            else if (_end == _buffer.Length)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var n = socket.Receive(_buffer.AsSpan(_end), SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidDataException("closed");
            }

            _end += n;
        }
    }
}
