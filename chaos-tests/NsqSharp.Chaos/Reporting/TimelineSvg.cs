using System.Globalization;
using System.Security;
using System.Text;

namespace NsqSharp.Chaos.Reporting;

/// <summary>
/// The timeline as one self-contained SVG (no scripts, no external references): acknowledged enqueues per
/// second on the left axis, ack latency p50 and max per second on the right axis, faults as shaded bands.
/// Same look as bench/nsq_bench/Report/SvgLineChart.
/// </summary>
public static class TimelineSvg
{
    private const int Width = 900;
    private const int Height = 440;
    private const int Left = 70;
    private const int Right = 70;
    private const int Top = 40;
    private const int Bottom = 56;
    private const int PlotW = Width - Left - Right;
    private const int PlotH = Height - Top - Bottom;
    private const string ThroughputColor = "#1f77b4";
    private const string P50Color = "#2ca02c";
    private const string MaxColor = "#ff7f0e";
    private const string FaultColor = "#d62728";

    public static string Render(Timeline timeline)
    {
        var xMax = NiceCeiling(Math.Max(1, Math.Max(timeline.DurationSeconds, timeline.Buckets.Count)));
        var rateMax = NiceCeiling(Math.Max(1, timeline.Buckets.Select(b => (double)b.Acked).DefaultIfEmpty(0).Max() * 1.05));
        var latencyMax = NiceCeiling(Math.Max(1, timeline.Buckets.Select(b => b.AckMaxMs ?? 0).DefaultIfEmpty(0).Max() * 1.05));
        double X(double seconds) => Left + (Math.Clamp(seconds, 0, xMax) / xMax * PlotW);
        double YRate(double rate) => Top + PlotH - (rate / rateMax * PlotH);
        double YLatency(double ms) => Top + PlotH - (ms / latencyMax * PlotH);

        var svg = new StringBuilder();
        svg.Append(I($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(I($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n"));
        svg.Append(I($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Acknowledged enqueues, ack latency and faults</text>\n"));
        Grid(svg, xMax, rateMax, latencyMax, X, YRate);
        FaultBands(svg, timeline, X);

        var throughput = timeline.Buckets.Select(b => (b.Second + 0.5, YRate(b.Acked))).ToList();
        Line(svg, ThroughputColor, throughput, X);
        foreach (var (color, pick) in new (string, Func<TimelineBucket, double?>)[] { (P50Color, b => b.AckP50Ms), (MaxColor, b => b.AckMaxMs) })
        {
            // Seconds without an acknowledgement have no latency: the line breaks there rather than dropping to 0.
            foreach (var run in Runs(timeline.Buckets, pick))
            {
                Line(svg, color, run.Select(b => (b.Second + 0.5, YLatency(pick(b)!.Value))).ToList(), X);
            }
        }

        Legend(svg);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Grid(StringBuilder svg, double xMax, double rateMax, double latencyMax, Func<double, double> x, Func<double, double> yRate)
    {
        for (var i = 0; i <= 5; i++)
        {
            var y = yRate(rateMax * i / 5);
            svg.Append(I($"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Left + PlotW}\" y2=\"{y:0.#}\" stroke=\"#e5e5e5\"/>\n"));
            svg.Append(I($"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\" fill=\"{ThroughputColor}\">{Short(rateMax * i / 5)}</text>\n"));
            svg.Append(I($"<text x=\"{Left + PlotW + 6}\" y=\"{y + 4:0.#}\" text-anchor=\"start\" fill=\"#555\">{Short(latencyMax * i / 5)}</text>\n"));
        }

        var step = NiceStep(xMax / 8);
        for (var s = 0.0; s <= xMax + (step / 1000); s += step)
        {
            svg.Append(I($"<line x1=\"{x(s):0.#}\" y1=\"{Top}\" x2=\"{x(s):0.#}\" y2=\"{Top + PlotH}\" stroke=\"#f0f0f0\"/>\n"));
            svg.Append(I($"<text x=\"{x(s):0.#}\" y=\"{Top + PlotH + 18}\" text-anchor=\"middle\">{Short(s)}</text>\n"));
        }

        svg.Append(I($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{PlotW}\" height=\"{PlotH}\" fill=\"none\" stroke=\"#888\"/>\n"));
        svg.Append(I($"<text x=\"{Left + (PlotW / 2)}\" y=\"{Height - 14}\" text-anchor=\"middle\">seconds since the first operation</text>\n"));
        svg.Append(I($"<text x=\"16\" y=\"{Top + (PlotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + (PlotH / 2)})\">acknowledged enqueues / s</text>\n"));
        svg.Append(I($"<text x=\"{Width - 16}\" y=\"{Top + (PlotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(90 {Width - 16} {Top + (PlotH / 2)})\">ack latency (ms)</text>\n"));
    }

    private static void FaultBands(StringBuilder svg, Timeline timeline, Func<double, double> x)
    {
        for (var i = 0; i < timeline.Faults.Count; i++)
        {
            var fault = timeline.Faults[i];
            var left = x(fault.StartSeconds);
            var width = Math.Max(1, x(fault.StopSeconds ?? timeline.DurationSeconds) - left);
            var label = Esc(fault.Label + (fault.StopSeconds is null ? " (never stopped)" : ""));
            svg.Append(I($"<rect x=\"{left:0.#}\" y=\"{Top}\" width=\"{width:0.#}\" height=\"{PlotH}\" fill=\"{FaultColor}\" fill-opacity=\"0.12\"><title>{label}</title></rect>\n"));
            // Labels step down in three rows so neighbouring faults do not print over each other.
            svg.Append(I($"<text x=\"{left + 3:0.#}\" y=\"{Top + 12 + (i % 3 * 13)}\" font-size=\"10\" fill=\"#a02020\">{label}</text>\n"));
        }
    }

    private static void Line(StringBuilder svg, string color, List<(double Seconds, double Y)> points, Func<double, double> x)
    {
        if (points.Count == 1)
        {
            svg.Append(I($"<circle cx=\"{x(points[0].Seconds):0.#}\" cy=\"{points[0].Y:0.#}\" r=\"2\" fill=\"{color}\"/>\n"));
        }
        else if (points.Count > 1)
        {
            var list = string.Join(" ", points.Select(p => I($"{x(p.Seconds):0.#},{p.Y:0.#}")));
            svg.Append(I($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{list}\"/>\n"));
        }
    }

    /// <summary>Maximal runs of consecutive buckets that have a value.</summary>
    private static IEnumerable<List<TimelineBucket>> Runs(IReadOnlyList<TimelineBucket> buckets, Func<TimelineBucket, double?> pick)
    {
        var run = new List<TimelineBucket>();
        foreach (var bucket in buckets)
        {
            if (pick(bucket) is null)
            {
                if (run.Count > 0)
                {
                    yield return run;
                    run = [];
                }
            }
            else
            {
                run.Add(bucket);
            }
        }

        if (run.Count > 0)
        {
            yield return run;
        }
    }

    private static void Legend(StringBuilder svg)
    {
        var entries = new[] { (ThroughputColor, "acked enqueues / s"), (P50Color, "ack latency p50 (ms)"), (MaxColor, "ack latency max (ms)") };
        var x = Left + PlotW - 200;
        // A light box so the legend stays readable over the lines it sits on.
        svg.Append(I($"<rect x=\"{x - 8}\" y=\"{Top + 4}\" width=\"204\" height=\"{(entries.Length + 1) * 16 + 8}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ddd\"/>\n"));
        for (var i = 0; i < entries.Length; i++)
        {
            var y = Top + 14 + (i * 16);
            svg.Append(I($"<rect x=\"{x}\" y=\"{y - 6}\" width=\"12\" height=\"3\" fill=\"{entries[i].Item1}\"/>\n"));
            svg.Append(I($"<text x=\"{x + 18}\" y=\"{y}\">{entries[i].Item2}</text>\n"));
        }

        var fy = Top + 14 + (entries.Length * 16);
        svg.Append(I($"<rect x=\"{x}\" y=\"{fy - 10}\" width=\"12\" height=\"10\" fill=\"{FaultColor}\" fill-opacity=\"0.12\"/>\n"));
        svg.Append(I($"<text x=\"{x + 18}\" y=\"{fy}\">fault (nemesis start to stop)</text>\n"));
    }

    private static double NiceCeiling(double v)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var step in new[] { 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 })
        {
            if (step * magnitude >= v)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    private static double NiceStep(double rough)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(rough, 1e-9))));
        var step = new[] { 1.0, 2, 5, 10 }.First(s => s * magnitude >= rough);
        return step * magnitude;
    }

    private static string Short(double v) => Math.Abs(v) switch
    {
        >= 1e6 => I($"{v / 1e6:0.##}M"),
        >= 1e3 => I($"{v / 1e3:0.##}k"),
        _ => I($"{v:0.##}"),
    };

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    // Control characters are not allowed in XML 1.0 even escaped; a label is for reading, so they become spaces.
    private static string Esc(string s) => SecurityElement.Escape(string.Create(s.Length, s, (chars, text) =>
    {
        for (var i = 0; i < text.Length; i++)
        {
            chars[i] = char.IsControl(text[i]) ? ' ' : text[i];
        }
    })) ?? "";
}
