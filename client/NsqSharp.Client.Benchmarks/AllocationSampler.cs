using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace NsqSharp.Client.Benchmarks;

/// <summary>Samples the runtime's AllocationTick events (one per ~100 KB allocated) to show which types
/// dominate allocations during a measurement; printed with the allocation report.</summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, int> _counts = new();
    private volatile bool _enabled;

    public void Start() => _enabled = true;

    public IEnumerable<KeyValuePair<string, int>> Stop()
    {
        _enabled = false;
        return _counts.OrderByDescending(p => p.Value).Take(8);
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_enabled || eventData.EventName == null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal))
        {
            return;
        }

        var index = eventData.PayloadNames?.IndexOf("TypeName") ?? -1;
        if (index >= 0 && eventData.Payload![index] is string type)
        {
            _counts.AddOrUpdate(type, 1, (_, n) => n + 1);
        }
    }
}
