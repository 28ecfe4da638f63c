using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.History;

namespace NsqSharp.Chaos.Tests;

/// <summary>Hand-made histories: lines written with ' for " so they read like the JSON they are.</summary>
internal static class Histories
{
    public static string Text(params string[] lines) => string.Join("\n", lines.Select(l => l.Replace('\'', '"'))) + "\n";

    public static CheckResult Check(params string[] lines) => TotalQueueChecker.Check(HistoryReader.ReadText(Text(lines)));

    public static HistoryFormatException Malformed(params string[] lines) =>
        Xunit.Assert.Throws<HistoryFormatException>(() => Check(lines));

    // Shorthands for the common lines; extra is appended inside the object (",'node':'n1'").
    public static string Enq(object process, string type, object value, long time, string extra = "") =>
        $"{{'process':{Json(process)},'type':'{type}','f':'enqueue','value':{Json(value)},'time':{time}{extra}}}";

    public static string DeqInvoke(object process, long time, string extra = "") =>
        $"{{'process':{Json(process)},'type':'invoke','f':'dequeue','value':null,'time':{time}{extra}}}";

    public static string DeqOk(object process, object value, long time, string extra = "") =>
        $"{{'process':{Json(process)},'type':'ok','f':'dequeue','value':{Json(value)},'time':{time}{extra}}}";

    /// <summary>An invoke and its ok dequeue of <paramref name="value"/>.</summary>
    public static string[] Deq(object process, object value, long time, string extra = "") =>
        [DeqInvoke(process, time), DeqOk(process, value, time + 1, extra)];

    public static string NemesisLine(string f, string what, long time) => $"{{'process':'nemesis','type':'info','f':'{f}','value':'{what}','time':{time}}}";

    private static string Json(object v) => v is string s ? $"'{s}'" : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!;
}
