namespace NsqSharp.Bench.Cli;

/// <summary>Where a finished run's result goes besides stdout (see <see cref="Report.RunOutputs"/>).</summary>
internal interface IRunOutputOptions
{
    string? JsonOut { get; }

    string? MarkdownOut { get; }

    string? SvgOut { get; }
}
