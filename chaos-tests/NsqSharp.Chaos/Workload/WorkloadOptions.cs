namespace NsqSharp.Chaos.Workload;

/// <summary>What the workload does against the cluster under test (defaults sized for a 2-core machine).</summary>
internal sealed record WorkloadOptions
{
    public string Topic { get; init; } = "chaos";

    public string Channel { get; init; } = "chaos";

    /// <summary>Producers publishing through lookupd discovery (to the leaders).</summary>
    public int LeaderProducers { get; init; } = 2;

    /// <summary>Producers pinned to one node each, leader or not (a non-leader forwards).</summary>
    public int NodeProducers { get; init; } = 3;

    public int Consumers { get; init; } = 2;

    /// <summary>False: the consumers start only at the drain, so every acknowledged value must still be in the log after
    /// all the faults (not just pass through a leader that later loses it).</summary>
    public bool ConsumeDuringRun { get; init; } = true;

    /// <summary>Publishes per second per producer (each producer has one publish in flight at a time).</summary>
    public int RatePerProducer { get; init; } = 100;

    /// <summary>A publish with no answer within this is indeterminate (info), beyond the broker's 5 s replicated-ack bound.</summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>The final drain ends when every acknowledged value came out and nothing new arrived for
    /// <see cref="DrainQuiet"/>, or nothing new arrived for <see cref="DrainIdle"/>, or after <see cref="DrainMax"/>.</summary>
    public TimeSpan DrainQuiet { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan DrainIdle { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan DrainMax { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Whether the drain is over. Quiet time counts from the drain's start at the earliest: consumers that
    /// start with the drain have dequeued nothing before it, and the run's length is no silence of theirs.</summary>
    public bool DrainIsOver(int missing, TimeSpan sinceLastDequeue, TimeSpan sinceDrainStart)
    {
        var quiet = sinceLastDequeue < sinceDrainStart ? sinceLastDequeue : sinceDrainStart;
        return (missing == 0 && quiet >= DrainQuiet) || quiet >= DrainIdle || sinceDrainStart >= DrainMax;
    }
}
