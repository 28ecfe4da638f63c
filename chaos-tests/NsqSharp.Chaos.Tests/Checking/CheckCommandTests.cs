using System.Text.Json;
using System.Xml.Linq;
using NsqSharp.Chaos.Checking;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Checking;

/// <summary>nsq_chaos --check end to end on files: exit codes, the last line, the report files.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new("chaos-check");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ValidHistoryExitsZeroWritesTheReportAndPrintsTheJsonLast()
    {
        var history = Write([Enq(0, "invoke", 1, 0), Enq(0, "ok", 1, 5), NemesisLine("start", "kill n1", 6), NemesisLine("stop", "kill n1", 7), .. Deq(1, 1, 10)]);
        var outDir = Path.Combine(_dir.Path, "out", "run1");

        var (code, stdout, stderr) = Run(history, outDir);

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var json = JsonDocument.Parse(LastLine(stdout));
        var root = json.RootElement;
        Assert.Equal(
            ["valid", "acked", "lost", "unexpected", "duplicated", "recovered", "faults"],
            root.EnumerateObject().Take(7).Select(p => p.Name));
        Assert.True(root.GetProperty("valid").GetBoolean());
        Assert.Equal((1, 0, 1), (root.GetProperty("acked").GetInt32(), root.GetProperty("lost").GetInt32(), root.GetProperty("faults").GetInt32()));
        Assert.Contains("valid: yes", stdout, StringComparison.Ordinal);
        Assert.Contains("# Chaos check: valid", File.ReadAllText(Path.Combine(outDir, "report.md")), StringComparison.Ordinal);
        Assert.NotNull(XDocument.Load(Path.Combine(outDir, "timeline.svg")).Root);
    }

    [Fact]
    public void InvalidHistoryExitsOneWithTheSamplesInTheJson()
    {
        var history = Write([Enq(0, "invoke", 1, 0), Enq(0, "ok", 1, 5, ",'node':'n1'"), .. Deq(1, 2, 10)]);

        var (code, stdout, _) = Run(history, outDir: null);

        Assert.Equal(1, code);
        using var json = JsonDocument.Parse(LastLine(stdout));
        var root = json.RootElement;
        Assert.False(root.GetProperty("valid").GetBoolean());
        Assert.Equal("1", root.GetProperty("lost_sample")[0].GetString());
        Assert.Equal("2", root.GetProperty("unexpected_sample")[0].GetString());
        Assert.Equal(1, root.GetProperty("nodes").GetProperty("n1").GetProperty("lost").GetInt32());
        Assert.False(File.Exists(Path.Combine(_dir.Path, "report.md")));
    }

    [Fact]
    public void MalformedHistoryExitsTwoNamingTheLine()
    {
        var history = Write(Enq(0, "invoke", 1, 0), "{'process':0,'type':'ok'");

        var (code, stdout, stderr) = Run(history, Path.Combine(_dir.Path, "out"));

        Assert.Equal(2, code);
        Assert.Contains("line 2: not valid JSON", stderr, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(LastLine(stdout));
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        Assert.Contains("line 2", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "out")));
    }

    [Fact]
    public void MissingHistoryExitsTwo()
    {
        var (code, _, stderr) = Run(Path.Combine(_dir.Path, "nope.jsonl"), outDir: null);

        Assert.Equal(2, code);
        Assert.Contains("cannot read", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void NoHistoryPathExitsTwo()
    {
        var (code, stdout, stderr) = Run("", outDir: "");

        Assert.Equal(2, code);
        Assert.Contains("no history file given", stderr, StringComparison.Ordinal);
        Assert.StartsWith("{\"valid\":false", LastLine(stdout), StringComparison.Ordinal);
    }

    private string Write(params string[] lines)
    {
        var path = Path.Combine(_dir.Path, "history.jsonl");
        File.WriteAllText(path, Text(lines));
        return path;
    }

    private static (int Code, string Stdout, string Stderr) Run(string history, string? outDir)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = CheckCommand.Run(history, outDir, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd('\n', '\r').Split('\n')[^1];
}
