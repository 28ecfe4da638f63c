using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NsqSharp.Chaos.History;

/// <summary>
/// Records the history as JSON lines, safe to call from any number of workload and nemesis threads.
/// Each line's time is read from the clock inside the same lock that appends it, so the file is in time
/// order and times never decrease. Lines are buffered (64 KiB) and written on <see cref="Flush"/> and
/// on dispose. Time is nanoseconds since the writer was made, from <see cref="TimeProvider.GetTimestamp"/>.
/// </summary>
public sealed class HistoryWriter : IDisposable
{
    private const int FlushAtBytes = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly TimeProvider _clock;
    private readonly long _origin;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushAtBytes * 2);
    private readonly Utf8JsonWriter _json;
    private readonly Lock _lock = new();
    private long _lastNanos;
    private bool _disposed;

    public HistoryWriter(string path, TimeProvider? clock = null)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1), clock, leaveOpen: false)
    {
    }

    public HistoryWriter(Stream stream, TimeProvider? clock = null, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _clock = clock ?? TimeProvider.System;
        _origin = _clock.GetTimestamp();
        // Relaxed escaping keeps values such as "kill-leader n2 <-> n3" readable in the file.
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Nanoseconds since the writer was made, on the clock the lines are stamped with.</summary>
    public long ElapsedNanos => ToNanos(_clock.GetTimestamp() - _origin, _clock.TimestampFrequency);

    public long Invoke(ProcessId process, string f, string? value, OpDetails details = default) => Write(process, OpType.Invoke, f, value, details);

    public long Ok(ProcessId process, string f, string? value, OpDetails details = default) => Write(process, OpType.Ok, f, value, details);

    public long Fail(ProcessId process, string f, string? value, OpDetails details = default) => Write(process, OpType.Fail, f, value, details);

    public long Info(ProcessId process, string f, string? value, OpDetails details = default) => Write(process, OpType.Info, f, value, details);

    /// <summary>A fault begins: {"process":"nemesis","type":"info","f":"start","value":description}.</summary>
    public long NemesisStart(string description) => Write(ProcessId.Nemesis, OpType.Info, HistoryNames.Start, description, default);

    /// <summary>A fault ends; give the same description as its start so the report pairs them.</summary>
    public long NemesisStop(string description) => Write(ProcessId.Nemesis, OpType.Info, HistoryNames.Stop, description, default);

    /// <summary>Appends one line and returns the time it was stamped with (nanoseconds).</summary>
    public long Write(ProcessId process, OpType type, string f, string? value, OpDetails details = default)
    {
        ArgumentNullException.ThrowIfNull(f);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var time = Math.Max(_lastNanos, ElapsedNanos);
            _lastNanos = time;
            WriteLine(process, type, f, value, details, time);
            if (_buffer.WrittenCount >= FlushAtBytes)
            {
                FlushBuffer();
            }

            return time;
        }
    }

    /// <summary>Writes the buffered lines to the stream (and the stream's own buffer to the OS).</summary>
    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            FlushBuffer();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                FlushBuffer();
            }
            finally
            {
                _disposed = true;
                _json.Dispose();
                if (!_leaveOpen)
                {
                    _stream.Dispose();
                }
            }
        }
    }

    private void WriteLine(ProcessId process, OpType type, string f, string? value, in OpDetails details, long time)
    {
        var json = _json;
        json.Reset(_buffer);
        json.WriteStartObject();
        if (process.Name is { } name)
        {
            json.WriteString("process"u8, name);
        }
        else
        {
            json.WriteNumber("process"u8, process.Number);
        }

        json.WriteString("type"u8, HistoryNames.TypeName(type));
        json.WriteString("f"u8, f);
        if (value is null)
        {
            json.WriteNull("value"u8);
        }
        else
        {
            json.WriteString("value"u8, value);
        }

        json.WriteNumber("time"u8, time);
        WriteIfSet(json, "node"u8, details.Node);
        if (details.Partition is { } partition)
        {
            json.WriteNumber("partition"u8, partition);
        }

        if (details.Offset is { } offset)
        {
            json.WriteNumber("offset"u8, offset);
        }

        WriteIfSet(json, "channel"u8, details.Channel);
        WriteIfSet(json, "key"u8, details.Key);
        WriteIfSet(json, "error"u8, details.Error);
        json.WriteEndObject();
        json.Flush();
        _buffer.Write("\n"u8);
    }

    private static void WriteIfSet(Utf8JsonWriter json, ReadOnlySpan<byte> name, string? text)
    {
        if (text is not null)
        {
            json.WriteString(name, text);
        }
    }

    private void FlushBuffer()
    {
        if (_buffer.WrittenCount > 0)
        {
            _stream.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }

        _stream.Flush();
    }

    // Split so hours of ticks at a 1 GHz frequency do not overflow a long on the way to nanoseconds.
    private static long ToNanos(long ticks, long frequency) =>
        (ticks / frequency * 1_000_000_000L) + (ticks % frequency * 1_000_000_000L / frequency);
}
