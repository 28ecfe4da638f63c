using System.Globalization;
using NsqSharp.Bench.Measure;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace NsqSharp.Bench.Report;

/// <summary>
/// Live progress on stderr (stdout stays clean for the result lines): a Spectre.Console table
/// refreshed every sample when stderr is a terminal, plain lines with --progress on otherwise.
/// </summary>
internal sealed class ProgressDisplay
{
    private readonly string _title;
    private readonly TimeSpan _runFor;
    private readonly IReadOnlyList<string> _series;
    private readonly int _size;
    private LiveDisplayContext? _live;
    private bool _plain;

    private ProgressDisplay(string title, TimeSpan runFor, IReadOnlyList<string> series, int size)
    {
        _title = title;
        _runFor = runFor;
        _series = series;
        _size = size;
    }

    /// <summary>Runs <paramref name="work"/> with a display (or none) that it updates per sample.</summary>
    public static async Task<T> RunAsync<T>(string mode, string title, TimeSpan runFor, IReadOnlyList<string> series, int size,
        Func<ProgressDisplay?, Task<T>> work)
    {
        var interactive = !Console.IsErrorRedirected;
        if (mode == "off" || (mode == "auto" && !interactive))
        {
            return await work(null).ConfigureAwait(false);
        }

        var display = new ProgressDisplay(title, runFor, series, size);
        if (!interactive)
        {
            display._plain = true;
            return await work(display).ConfigureAwait(false);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        await console.Live(display.Render(null)).AutoClear(false).StartAsync(async ctx =>
        {
            display._live = ctx;
            result = await work(display).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return result;
    }

    public void Update(TimeSample sample, string phase = "")
    {
        if (_plain)
        {
            Console.Error.WriteLine(PlainLine(sample, phase));
            return;
        }

        _live?.UpdateTarget(Render(sample, phase));
        _live?.Refresh();
    }

    private string PlainLine(TimeSample s, string phase)
    {
        var parts = new List<string> { $"[{_title}] {s.ElapsedSeconds,6:0.0}s{(phase.Length > 0 ? " " + phase : "")}" };
        for (var i = 0; i < _series.Count; i++)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{_series[i]} {s.Rates[i],10:N0} msg/s ({s.Totals[i]:N0})"));
        }

        if (s.BrokerCpuPercent is { } cpu)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"broker cpu {cpu:0}% rss {s.BrokerRssMib:0} MiB"));
        }

        parts.Add(string.Create(CultureInfo.InvariantCulture, $"tool cpu {s.ToolCpuPercent:0}%"));
        return string.Join(" | ", parts);
    }

    private IRenderable Render(TimeSample? s, string phase = "")
    {
        var elapsed = s?.ElapsedSeconds ?? 0;
        var fraction = _runFor.TotalSeconds > 0 ? Math.Clamp(elapsed / _runFor.TotalSeconds, 0, 1) : 0;
        const int width = 30;
        var filled = (int)(fraction * width);
        var bar = new string('█', filled) + new string('░', width - filled);

        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"nsq_bench {_title}"))
            .AddColumn("series").AddColumn(new TableColumn("msg/s").RightAligned())
            .AddColumn(new TableColumn("MiB/s").RightAligned()).AddColumn(new TableColumn("total").RightAligned());
        for (var i = 0; i < _series.Count; i++)
        {
            var rate = s?.Rates[i] ?? 0;
            table.AddRow(_series[i], F("{0:N0}", rate), F("{0:0.00}", rate * _size / 1048576.0), F("{0:N0}", s?.Totals[i] ?? 0));
        }

        var resources = s is null ? "" :
            (s.BrokerCpuPercent is { } cpu ? F("broker cpu {0:0}%  rss {1:0} MiB   ", cpu, s.BrokerRssMib ?? 0) : "broker: not sampled   ") +
            F("tool cpu {0:0}%   other cpu {1:0}%", s.ToolCpuPercent ?? 0, s.OtherCpuPercent ?? 0);
        return new Rows(
            new Markup(Markup.Escape($"{bar} {elapsed:0.0}s / {_runFor.TotalSeconds:0.#}s {phase}")),
            table,
            new Markup(Markup.Escape(resources)));
    }

    private static string F(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
}
