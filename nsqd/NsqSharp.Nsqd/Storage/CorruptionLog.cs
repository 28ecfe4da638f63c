using System.Globalization;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Storage;

internal enum CorruptionKind
{
    /// <summary>Bytes [Position, EndPosition) held no valid batch; offsets [Expected, Found) are lost.</summary>
    Skipped,

    /// <summary>The batch at Position stored base offset Found; its records were read at Expected (continuity).</summary>
    BaseOffsetRepaired,

    /// <summary>The batch at Position stored length Found; its CRC matched Expected bytes, so it was read whole.</summary>
    LengthRepaired,

    /// <summary>The batch at Position stored leader epoch Found, below its predecessor's Expected (epochs only grow; the
    /// field is not covered by the CRC): recovery ignores it for the leader-epoch cache, the records are intact.</summary>
    EpochRegressed,
}

/// <summary>One damaged spot in a segment, as found by a <see cref="BatchWalker"/>.</summary>
internal readonly record struct Corruption(CorruptionKind Kind, long Position, long EndPosition, string Problem, long Expected, long Found);

internal interface ICorruptionSink
{
    void Report(LogSegment segment, in Corruption corruption);
}

/// <summary>
/// Counts and logs one partition's damaged batches. Each spot is counted and logged once however many readers
/// pass it (recovery, channels, redeliveries); log lines are rate-limited, with the number suppressed carried
/// into the next line, so a badly damaged disk cannot flood the log.
/// </summary>
internal sealed class CorruptionLog : ICorruptionSink
{
    private const int LinesPerWindow = 20;
    private const long WindowMs = 60_000;

    private readonly ILogger _logger;
    private readonly object _rateLock = new();
    private long _windowStart = -WindowMs;
    private int _lines;
    private long _suppressed;
    private long _batchesSkipped;
    private long _messagesSkipped;
    private long _headersRepaired;

    public CorruptionLog(ILogger logger) => _logger = logger;

    public long BatchesSkipped => Interlocked.Read(ref _batchesSkipped);

    public long MessagesSkipped => Interlocked.Read(ref _messagesSkipped);

    public long HeadersRepaired => Interlocked.Read(ref _headersRepaired);

    public void Report(LogSegment segment, in Corruption c)
    {
        if (!segment.MarkReported(c.Position, c.Kind))
        {
            return;
        }

        if (c.Kind == CorruptionKind.Skipped)
        {
            Interlocked.Increment(ref _batchesSkipped);
            Interlocked.Add(ref _messagesSkipped, Math.Max(0, c.Found - c.Expected));
        }
        else
        {
            Interlocked.Increment(ref _headersRepaired);
        }

        if (!TryTakeLine(out long suppressed))
        {
            return;
        }

        string more = suppressed > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({suppressed} more corruption reports suppressed)") : "";
        switch (c.Kind)
        {
            case CorruptionKind.Skipped:
                string lost = c.Found > c.Expected
                    ? string.Create(CultureInfo.InvariantCulture, $"offsets {c.Expected}..{c.Found - 1} ({c.Found - c.Expected} messages) are lost")
                    : "no offsets are lost";
                _logger.LogError(
                    "partition log segment {Path}: {Problem} at byte {Position}; skipped {Bytes} bytes to the next valid batch, {Lost}{More}",
                    segment.LogPath, c.Problem, c.Position, c.EndPosition - c.Position, lost, more);
                break;
            case CorruptionKind.EpochRegressed:
                _logger.LogError(
                    "partition log segment {Path}: {Problem} at byte {Position}: stored leader epoch {Stored} is below its predecessor's {Previous}; the epoch is ignored, nothing is lost{More}",
                    segment.LogPath, c.Problem, c.Position, c.Found, c.Expected, more);
                break;
            case CorruptionKind.BaseOffsetRepaired:
                _logger.LogError(
                    "partition log segment {Path}: {Problem} at byte {Position}: stored base offset {Stored}, read as {Offset}; nothing is lost{More}",
                    segment.LogPath, c.Problem, c.Position, c.Found, c.Expected, more);
                break;
            default:
                _logger.LogError(
                    "partition log segment {Path}: {Problem} at byte {Position}; read with the corrected length, nothing is lost{More}",
                    segment.LogPath, c.Problem, c.Position, more);
                break;
        }
    }

    /// <summary>Tail damage of a closed segment: offsets [from, to) are lost (to unknown when &lt;= from).</summary>
    public void ReportTail(LogSegment segment, long position, long end, string problem, long from, long to) =>
        Report(segment, new Corruption(CorruptionKind.Skipped, position, end, problem + " (nothing valid after it in the segment)", from, Math.Max(from, to)));

    private bool TryTakeLine(out long suppressed)
    {
        lock (_rateLock)
        {
            long now = Environment.TickCount64;
            if (now - _windowStart >= WindowMs)
            {
                _windowStart = now;
                _lines = 0;
            }

            if (_lines >= LinesPerWindow)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            _lines++;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
