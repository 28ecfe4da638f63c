namespace NsqSharp.Chaos.Scenarios;

/// <summary>One run as the command line asked for it.</summary>
internal sealed record ScenarioRun
{
    public required Scenario Scenario { get; init; }

    public required TimeSpan Time { get; init; }

    public required int Seed { get; init; }

    public required string OutDir { get; init; }

    /// <summary>Extra nsqd flags (e.g. --debug-unsafe-ack-leader-only for the harness's self-test).</summary>
    public IReadOnlyList<string> NsqdArgs { get; init; } = [];

    /// <summary>Consumers start only at the drain (see <see cref="Workload.WorkloadOptions.ConsumeDuringRun"/>).</summary>
    public bool ConsumeAfter { get; init; }

    /// <summary>The nodes' lease: a pause or a cut-off leader is held longer than this.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(3);
}
