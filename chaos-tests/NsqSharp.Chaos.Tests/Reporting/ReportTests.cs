using System.Xml.Linq;
using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.History;
using NsqSharp.Chaos.Reporting;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Reporting;

/// <summary>report.md carries the verdict, nodes, samples, faults and recovery; timeline.svg is well-formed and self-contained.</summary>
public sealed class ReportTests
{
    private const long Second = 1_000_000_000;

    [Fact]
    public void MarkdownHasEverySection()
    {
        var (result, timeline) = Outcome();

        var md = MarkdownReport.Render(result, timeline, "history.jsonl");

        Assert.StartsWith("# Chaos check: INVALID\n", md, StringComparison.Ordinal);
        Assert.Contains("| lost | **1** | acknowledged, never received |", md, StringComparison.Ordinal);
        Assert.Contains("| n1 | 1 | 0 | **1** | 0 |", md, StringComparison.Ordinal);
        Assert.Contains("| `2` | n1 | 5 |", md, StringComparison.Ordinal);
        Assert.Contains("| 1 | 1.000 | 2.000 | 1.000 | kill n1 \\| n2 |", md, StringComparison.Ordinal);
        Assert.Contains("## Throughput recovery", md, StringComparison.Ordinal);
        Assert.Contains("![acknowledged enqueues, ack latency and faults over time](timeline.svg)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void SvgIsWellFormedWithABandPerFaultAndNoScript()
    {
        var (_, timeline) = Outcome();

        var svg = XDocument.Parse(TimelineSvg.Render(timeline));

        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        Assert.Empty(svg.Descendants(ns + "script"));
        Assert.Single(svg.Descendants(ns + "title"), e => e.Value == "kill n1 | n2");
        Assert.NotEmpty(svg.Descendants(ns + "polyline"));
    }

    [Fact]
    public void SvgOfAnEmptyHistoryIsStillWellFormed() =>
        Assert.NotNull(XDocument.Parse(TimelineSvg.Render(new Timeline(0, [], [new FaultWindow("odd <label> & \u0001", 0, null)], []))).Root);

    private static (CheckResult, Timeline) Outcome()
    {
        var (result, timeline) = HistoryCheck.Run(HistoryReader.ReadText(Text(
            Enq(0, "invoke", 1, 0), Enq(0, "ok", 1, Second / 10, ",'node':'n2'"),
            NemesisLine("start", "kill n1 | n2", Second),
            Enq(0, "invoke", 2, Second + 1), Enq(0, "ok", 2, Second + 2, ",'node':'n1'"),
            NemesisLine("stop", "kill n1 | n2", 2 * Second),
            DeqInvoke(1, 3 * Second), DeqOk(1, 1, 3 * Second, ",'node':'n2'"))));
        return (result, timeline);
    }
}
