using System.Globalization;

namespace NsqSharp.Chaos.History;

/// <summary>
/// A history "process": an integer for workload clients (written as a JSON number) or a name such as
/// "nemesis" (written as a JSON string). Converts implicitly from both, so callers just pass 3 or "nemesis".
/// </summary>
public readonly record struct ProcessId
{
    private ProcessId(long number, string? name)
    {
        Number = number;
        Name = name;
    }

    public static ProcessId Nemesis { get; } = new(0, HistoryNames.Nemesis);

    /// <summary>The number, when <see cref="Name"/> is null.</summary>
    public long Number { get; }

    public string? Name { get; }

    public static implicit operator ProcessId(long number) => FromNumber(number);

    public static implicit operator ProcessId(string name) => FromName(name);

    public static ProcessId FromNumber(long number) => new(number, null);

    public static ProcessId FromName(string name) => new(0, name ?? throw new ArgumentNullException(nameof(name)));

    public override string ToString() => Name ?? Number.ToString(CultureInfo.InvariantCulture);
}
