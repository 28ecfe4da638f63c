using System.Text;
using System.Text.Json;

namespace NsqSharp.Chaos.History;

/// <summary>
/// Parses one history line (a JSON object) into a <see cref="HistoryOp"/>. Required: process, type, f, time.
/// Unknown fields are skipped so the harness can add more without breaking old checkers.
/// </summary>
internal static class HistoryLineParser
{
    // Texts longer than this (in UTF-8 bytes) skip the pool: they are values, not names.
    private const int PooledMaxBytes = 128;

    public static HistoryOp Parse(ReadOnlySpan<byte> line, long lineNumber, StringPool pool)
    {
        try
        {
            return ParseObject(line, lineNumber, pool);
        }
        catch (JsonException e)
        {
            throw new HistoryFormatException(lineNumber, $"not valid JSON ({FirstSentence(e.Message)})");
        }
        catch (InvalidOperationException e)
        {
            throw new HistoryFormatException(lineNumber, $"not valid JSON ({FirstSentence(e.Message)})");
        }
    }

    private static HistoryOp ParseObject(ReadOnlySpan<byte> line, long lineNumber, StringPool pool)
    {
        var json = new Utf8JsonReader(line);
        if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
        {
            throw new HistoryFormatException(lineNumber, "expected a JSON object");
        }

        string? process = null, f = null, value = null, node = null, channel = null, key = null, error = null;
        OpType? type = null;
        long? time = null, offset = null;
        int? partition = null;
        while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
        {
            if (json.ValueTextEquals("process"u8))
            {
                json.Read();
                process = Scalar(ref json, lineNumber, "process", pool);
            }
            else if (json.ValueTextEquals("type"u8))
            {
                json.Read();
                type = Type(ref json, lineNumber);
            }
            else if (json.ValueTextEquals("f"u8))
            {
                json.Read();
                f = json.TokenType == JsonTokenType.String ? PooledString(ref json, pool) : throw Bad(lineNumber, "\"f\" must be a string");
            }
            else if (json.ValueTextEquals("value"u8))
            {
                json.Read();
                value = Scalar(ref json, lineNumber, "value", pool: null);
            }
            else if (json.ValueTextEquals("time"u8))
            {
                json.Read();
                time = Integer(ref json, lineNumber, "time");
            }
            else if (json.ValueTextEquals("node"u8))
            {
                json.Read();
                node = Scalar(ref json, lineNumber, "node", pool);
            }
            else if (json.ValueTextEquals("partition"u8))
            {
                json.Read();
                var p = Integer(ref json, lineNumber, "partition");
                partition = p is null ? null : p is >= int.MinValue and <= int.MaxValue ? (int)p : throw Bad(lineNumber, "\"partition\" is out of range");
            }
            else if (json.ValueTextEquals("offset"u8))
            {
                json.Read();
                offset = Integer(ref json, lineNumber, "offset");
            }
            else if (json.ValueTextEquals("channel"u8))
            {
                json.Read();
                channel = Scalar(ref json, lineNumber, "channel", pool);
            }
            else if (json.ValueTextEquals("key"u8))
            {
                json.Read();
                key = Scalar(ref json, lineNumber, "key", pool);
            }
            else if (json.ValueTextEquals("error"u8))
            {
                json.Read();
                error = Scalar(ref json, lineNumber, "error", pool: null);
            }
            else
            {
                json.Read();
                json.Skip();
            }
        }

        if (json.TokenType != JsonTokenType.EndObject)
        {
            throw Bad(lineNumber, "expected a JSON object");
        }

        if (json.Read())
        {
            throw Bad(lineNumber, "more than one JSON value on the line");
        }

        return new HistoryOp(
            lineNumber,
            process ?? throw Missing(lineNumber, "process"),
            type ?? throw Missing(lineNumber, "type"),
            f ?? throw Missing(lineNumber, "f"),
            value,
            time ?? throw Missing(lineNumber, "time"))
        {
            Node = node,
            Partition = partition,
            Offset = offset,
            Channel = channel,
            Key = key,
            Error = error,
        };
    }

    private static OpType Type(ref Utf8JsonReader json, long lineNumber)
    {
        if (json.TokenType == JsonTokenType.String && !json.ValueIsEscaped && HistoryNames.TryParseType(json.ValueSpan, out var type))
        {
            return type;
        }

        throw Bad(lineNumber, "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\"");
    }

    /// <summary>A string or an integer, as text; null for JSON null. Anything else is an error naming the field.</summary>
    private static string? Scalar(ref Utf8JsonReader json, long lineNumber, string field, StringPool? pool)
    {
        switch (json.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return pool is null ? json.GetString() : PooledString(ref json, pool);
            case JsonTokenType.Number when IsInteger(json.ValueSpan):
                if (pool is null || json.ValueSpan.Length > PooledMaxBytes)
                {
                    return Encoding.UTF8.GetString(json.ValueSpan);
                }

                Span<char> digits = stackalloc char[PooledMaxBytes];
                return pool.Get(digits[..Encoding.UTF8.GetChars(json.ValueSpan, digits)]);
            default:
                throw Bad(lineNumber, $"\"{field}\" must be a string or an integer");
        }
    }

    private static string PooledString(ref Utf8JsonReader json, StringPool pool)
    {
        // Unescaping never lengthens the text, and UTF-16 never needs more chars than UTF-8 has bytes.
        if (json.ValueSpan.Length > PooledMaxBytes)
        {
            return json.GetString()!;
        }

        Span<char> chars = stackalloc char[PooledMaxBytes];
        return pool.Get(chars[..json.CopyString(chars)]);
    }

    private static long? Integer(ref Utf8JsonReader json, long lineNumber, string field)
    {
        if (json.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (json.TokenType == JsonTokenType.Number && json.TryGetInt64(out var n))
        {
            return n;
        }

        throw Bad(lineNumber, $"\"{field}\" must be an integer");
    }

    // JSON numbers are compared as text, so only integers are accepted: 1.0 and 1 would otherwise differ.
    private static bool IsInteger(ReadOnlySpan<byte> number) => number.IndexOfAny(".eE"u8) < 0;

    private static HistoryFormatException Bad(long lineNumber, string reason) => new(lineNumber, reason);

    private static HistoryFormatException Missing(long lineNumber, string field) => new(lineNumber, $"missing \"{field}\"");

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
