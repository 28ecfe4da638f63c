using System.Globalization;
using System.Security;
using System.Text;

namespace NsqSharp.Bench.Report;

/// <summary>A minimal dependency-free SVG line chart: axes with round ticks, one polyline per series, a legend.</summary>
internal sealed class SvgLineChart(string title, string xLabel, string yLabel)
{
    private const int Width = 800;
    private const int Height = 420;
    private const int Left = 80;
    private const int Right = 40;
    private const int Top = 40;
    private const int Bottom = 60;
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    private readonly List<(string Name, IReadOnlyList<(double X, double Y)> Points)> _series = [];

    /// <summary>Start the x axis at 0 (time series) rather than at the first point.</summary>
    public bool XFromZero { get; set; }

    /// <summary>Custom x tick labels (e.g. percentiles on a "nines" axis); default: numeric ticks.</summary>
    public IReadOnlyList<(double X, string Label)>? XTicks { get; set; }

    public SvgLineChart Add(string name, IReadOnlyList<(double X, double Y)> points)
    {
        _series.Add((name, points));
        return this;
    }

    public string Render()
    {
        var all = _series.SelectMany(s => s.Points).ToList();
        double xMin = all.Count == 0 ? 0 : all.Min(p => p.X), xMax = all.Count == 0 ? 1 : all.Max(p => p.X);
        double yMax = all.Count == 0 ? 1 : all.Max(p => p.Y);
        if (XFromZero)
        {
            xMin = Math.Min(0, xMin);
        }

        if (xMax <= xMin)
        {
            xMax = xMin + 1;
        }

        yMax = NiceCeiling(yMax <= 0 ? 1 : yMax * 1.05);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(double x) => Left + ((x - xMin) / (xMax - xMin) * plotW);
        double Y(double y) => Top + plotH - (y / yMax * plotH);

        var svg = new StringBuilder();
        svg.Append(I($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(I($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n"));
        svg.Append(I($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Esc(title)}</text>\n"));

        for (var i = 0; i <= 5; i++)
        {
            var v = yMax * i / 5;
            svg.Append(I($"<line x1=\"{Left}\" y1=\"{Y(v):0.#}\" x2=\"{Width - Right}\" y2=\"{Y(v):0.#}\" stroke=\"#e5e5e5\"/>\n"));
            svg.Append(I($"<text x=\"{Left - 6}\" y=\"{Y(v) + 4:0.#}\" text-anchor=\"end\">{Esc(Short(v))}</text>\n"));
        }

        var xTicks = XTicks ?? Enumerable.Range(0, 6).Select(i => xMin + ((xMax - xMin) * i / 5)).Select(x => (x, Short(x))).ToList();
        foreach (var (x, label) in xTicks)
        {
            svg.Append(I($"<line x1=\"{X(x):0.#}\" y1=\"{Top}\" x2=\"{X(x):0.#}\" y2=\"{Top + plotH}\" stroke=\"#f0f0f0\"/>\n"));
            svg.Append(I($"<text x=\"{X(x):0.#}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{Esc(label)}</text>\n"));
        }

        svg.Append(I($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888\"/>\n"));
        svg.Append(I($"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 14}\" text-anchor=\"middle\">{Esc(xLabel)}</text>\n"));
        svg.Append(I($"<text x=\"16\" y=\"{Top + (plotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + (plotH / 2)})\">{Esc(yLabel)}</text>\n"));

        for (var s = 0; s < _series.Count; s++)
        {
            var color = Palette[s % Palette.Length];
            var points = string.Join(" ", _series[s].Points.Select(p => I($"{X(p.X):0.#},{Y(p.Y):0.#}")));
            svg.Append(I($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>\n"));
            var ly = Top + 14 + (s * 16);
            svg.Append(I($"<rect x=\"{Left + 10}\" y=\"{ly - 9}\" width=\"12\" height=\"3\" fill=\"{color}\"/>\n"));
            svg.Append(I($"<text x=\"{Left + 28}\" y=\"{ly - 4}\">{Esc(_series[s].Name)}</text>\n"));
        }

        svg.Append("</svg>\n");
        return svg.ToString();
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

    private static string Short(double v) => Math.Abs(v) switch
    {
        >= 1e6 => I($"{v / 1e6:0.##}M"),
        >= 1e3 => I($"{v / 1e3:0.##}k"),
        _ => I($"{v:0.##}"),
    };

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Esc(string s) => SecurityElement.Escape(s) ?? "";
}
