namespace NsqSharp.Chaos.History;

/// <summary>The names the history format uses on the wire ("f" values, the nemesis process, the "type" spellings).</summary>
public static class HistoryNames
{
    public const string Enqueue = "enqueue";
    public const string Dequeue = "dequeue";

    /// <summary>The process of fault lines; its "f" is <see cref="Start"/> or <see cref="Stop"/>.</summary>
    public const string Nemesis = "nemesis";
    public const string Start = "start";
    public const string Stop = "stop";

    public static string TypeName(OpType type) => type switch
    {
        OpType.Invoke => "invoke",
        OpType.Ok => "ok",
        OpType.Fail => "fail",
        OpType.Info => "info",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static bool TryParseType(ReadOnlySpan<byte> utf8, out OpType type)
    {
        if (utf8.SequenceEqual("invoke"u8))
        {
            type = OpType.Invoke;
        }
        else if (utf8.SequenceEqual("ok"u8))
        {
            type = OpType.Ok;
        }
        else if (utf8.SequenceEqual("fail"u8))
        {
            type = OpType.Fail;
        }
        else if (utf8.SequenceEqual("info"u8))
        {
            type = OpType.Info;
        }
        else
        {
            type = default;
            return false;
        }

        return true;
    }
}
