using NsqSharp.Client;

namespace NsqSharp.Chaos.Workload;

/// <summary>How a publish ended, for the history: acknowledged, definitely not written, or unknown.</summary>
public enum PublishOutcome
{
    Ok,
    Fail,
    Info,
}

internal static class PublishOutcomes
{
    /// <summary>
    /// Only an answer that proves the broker did not write the message is a failure: E_NOT_LEADER (refused before the
    /// append, or the append truncated away with the leadership) and the bad-input errors. Everything else (timeouts,
    /// lost connections, E_NOT_ENOUGH_REPLICAS, which may come after the write, E_CLUSTER_UNAVAILABLE from a forward
    /// whose leader may have written it) is indeterminate: the checker counts such values if they come out.
    /// </summary>
    public static PublishOutcome Classify(Exception e) => e switch
    {
        NsqServerException s when s.Code is "E_NOT_LEADER" or "E_BAD_TOPIC" or "E_BAD_MESSAGE" or "E_BAD_BODY" or "E_INVALID" => PublishOutcome.Fail,
        _ => PublishOutcome.Info,
    };
}
