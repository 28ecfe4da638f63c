using System.Globalization;

namespace NsqSharp.Client.Config;

/// <summary>One named option of <see cref="NsqConfig"/>: parsing, range checks and printing.</summary>
internal abstract class ConfigOption(string name)
{
    public string Name { get; } = name;

    public abstract void Set(NsqConfig config, string value);

    public abstract string Get(NsqConfig config);

    /// <summary>Returns an error text when the current value is out of range, else null.</summary>
    public virtual string? Check(NsqConfig config) => null;

    protected ArgumentException CoerceError(string value, string reason) =>
        new($"failed to coerce option {Name} ({value}) - {reason}", "value");

    // go-nsq: "invalid %s ! %v < %v"
    protected string BelowMin(string actual, string min) => $"invalid {Name} ! {actual} < {min}";

    protected string AboveMax(string actual, string max) => $"invalid {Name} ! {actual} > {max}";
}

internal sealed class DurationOption(
    string name, Func<NsqConfig, TimeSpan> get, Action<NsqConfig, TimeSpan> set, TimeSpan? min = null, TimeSpan? max = null)
    : ConfigOption(name)
{
    public override void Set(NsqConfig config, string value)
    {
        if (!GoValueParser.TryParseDuration(value, out var parsed))
        {
            throw CoerceError(value, "invalid duration");
        }

        var error = Check(parsed);
        if (error != null)
        {
            throw new ArgumentException(error, "value");
        }

        set(config, parsed);
    }

    public override string Get(NsqConfig config) => GoValueParser.FormatDuration(get(config));

    public override string? Check(NsqConfig config) => Check(get(config));

    private string? Check(TimeSpan value)
    {
        if (min is { } lo && value < lo)
        {
            return BelowMin(GoValueParser.FormatDuration(value), GoValueParser.FormatDuration(lo));
        }

        if (max is { } hi && value > hi)
        {
            return AboveMax(GoValueParser.FormatDuration(value), GoValueParser.FormatDuration(hi));
        }

        return null;
    }
}

internal sealed class IntegerOption(
    string name, Func<NsqConfig, long> get, Action<NsqConfig, long> set, long? min = null, long? max = null)
    : ConfigOption(name)
{
    public override void Set(NsqConfig config, string value)
    {
        if (!long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
        {
            throw CoerceError(value, "invalid integer");
        }

        var error = Check(parsed);
        if (error != null)
        {
            throw new ArgumentException(error, "value");
        }

        set(config, parsed);
    }

    public override string Get(NsqConfig config) => get(config).ToString(CultureInfo.InvariantCulture);

    public override string? Check(NsqConfig config) => Check(get(config));

    private string? Check(long value)
    {
        if (min is { } lo && value < lo)
        {
            return BelowMin(value.ToString(CultureInfo.InvariantCulture), lo.ToString(CultureInfo.InvariantCulture));
        }

        if (max is { } hi && value > hi)
        {
            return AboveMax(value.ToString(CultureInfo.InvariantCulture), hi.ToString(CultureInfo.InvariantCulture));
        }

        return null;
    }
}

internal sealed class FloatOption(
    string name, Func<NsqConfig, double> get, Action<NsqConfig, double> set, double min, double max)
    : ConfigOption(name)
{
    public override void Set(NsqConfig config, string value)
    {
        if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ||
            double.IsNaN(parsed))
        {
            throw CoerceError(value, "invalid float");
        }

        var error = Check(parsed);
        if (error != null)
        {
            throw new ArgumentException(error, "value");
        }

        set(config, parsed);
    }

    public override string Get(NsqConfig config) => get(config).ToString(CultureInfo.InvariantCulture);

    public override string? Check(NsqConfig config) => Check(get(config));

    private string? Check(double value) =>
        value < min ? BelowMin(Format(value), Format(min))
        : value > max ? AboveMax(Format(value), Format(max))
        : double.IsNaN(value) ? $"invalid {Name} ! NaN"
        : null;

    private static string Format(double v) => v.ToString(CultureInfo.InvariantCulture);
}

internal sealed class BoolOption(string name, Func<NsqConfig, bool> get, Action<NsqConfig, bool> set) : ConfigOption(name)
{
    public override void Set(NsqConfig config, string value)
    {
        if (!GoValueParser.TryParseBool(value, out var parsed))
        {
            throw CoerceError(value, "invalid boolean");
        }

        set(config, parsed);
    }

    public override string Get(NsqConfig config) => get(config) ? "true" : "false";
}

internal sealed class StringOption(
    string name, Func<NsqConfig, string?> get, Action<NsqConfig, string?> set, Func<string, string?>? validate = null)
    : ConfigOption(name)
{
    public override void Set(NsqConfig config, string value)
    {
        var error = validate?.Invoke(value);
        if (error != null)
        {
            throw CoerceError(value, error);
        }

        set(config, value);
    }

    public override string Get(NsqConfig config) => get(config) ?? "";

    public override string? Check(NsqConfig config)
    {
        var value = get(config);
        return value == null || validate == null ? null : validate(value) is { } e ? $"invalid {Name} ! {e}" : null;
    }
}
