using System.Diagnostics;
using NsqSharp.Bench.Load;
using Xunit;

namespace NsqSharp.Bench.Tests.Load;

/// <summary>
/// The open-loop timetable: batch k is due at start + k / (batches per second), the run ends at
/// start + runfor and the percentiles take only batches due at or after start + warmup. A batch due
/// exactly at the end is not sent, so --rate=R for T seconds publishes exactly R*T messages.
/// </summary>
public class LatencyScheduleTests
{
    private static readonly long Freq = Stopwatch.Frequency;

    [Fact]
    public void Rate_500_is_one_batch_every_2_ms_from_start()
    {
        var s = new LatencySchedule(500, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1));
        const long start = 1_000_000_007;
        s.Begin(start);
        Assert.Equal(start, s.Start);
        Assert.Equal(start + Freq, s.End);
        Assert.Equal(start + (Freq / 4), s.WarmupEnd);
        for (var k = 0; k <= 500; k++)
        {
            Assert.Equal(start + (k * Freq / 500), s.Due(k));
        }

        Assert.Equal(500, CountBefore(s, s.End));
        Assert.Equal(125, CountBefore(s, s.WarmupEnd)); // batches 0..124 are warmup, 375 measured
    }

    [Fact]
    public void Due_times_are_exact_to_the_tick_and_evenly_spaced()
    {
        foreach (var batchesPerSecond in new[] { 1.0, 3, 7, 29, 77, 500, 997, 10_000, 33_333, 123_457, 2.5, 1000.0 / 7 })
        {
            var s = new LatencySchedule(batchesPerSecond, TimeSpan.Zero, TimeSpan.FromSeconds(5));
            var start = Stopwatch.GetTimestamp();
            s.Begin(start);
            var period = Freq / batchesPerSecond;
            long previous = s.Due(0);
            Assert.Equal(start, previous);
            for (long k = 1; k < 20_000; k++)
            {
                var due = s.Due(k);
                var exact = k * (decimal)Freq / (decimal)batchesPerSecond;
                Assert.True(Math.Abs(due - start - exact) <= 0.501m, $"{batchesPerSecond}/s batch {k}: due +{due - start}, exact +{exact}");
                var step = due - previous;
                Assert.True(step >= Math.Floor(period) && step <= Math.Ceiling(period), $"{batchesPerSecond}/s batch {k}: step {step}, period {period}");
                previous = due;
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 200)]
    [InlineData(10, 1)]
    [InlineData(10, 10)]
    public void Every_integer_rate_sends_exactly_rate_times_runfor_messages(int seconds, int batchSize)
    {
        // The batch due exactly at start + runfor is the first of the next second: not sent. Checked by
        // the boundary (batch N-1 due before End, batch N not) for every rate up to 60,000 msg/s.
        var bad = new List<string>();
        for (var rate = batchSize; rate <= 60_000; rate += batchSize)
        {
            var s = new LatencySchedule((double)rate / batchSize, TimeSpan.Zero, TimeSpan.FromSeconds(seconds));
            s.Begin(Stopwatch.GetTimestamp());
            var batches = (long)rate * seconds / batchSize;
            if (!(s.Due(batches - 1) < s.End && s.Due(batches) >= s.End))
            {
                bad.Add($"{rate}/s: batch {batches} due {s.End - s.Due(batches)} ticks before the end");
            }
        }

        Assert.True(bad.Count == 0, $"{bad.Count} rates send an extra batch, e.g. {string.Join("; ", bad.Take(5))}");
    }

    [Fact]
    public void Warmup_excludes_exactly_the_batches_due_before_it()
    {
        var bad = new List<string>();
        foreach (var warmupMs in new[] { 100, 250, 500, 1000, 1001, 1234, 2000 })
        {
            for (var rate = 1; rate <= 20_000; rate += 7)
            {
                var s = new LatencySchedule(rate, TimeSpan.FromMilliseconds(warmupMs), TimeSpan.FromSeconds(5));
                s.Begin(Stopwatch.GetTimestamp());
                // Batches k with k / rate < warmup, i.e. k < rate * warmupMs / 1000.
                var warm = ((rate * (long)warmupMs) + 999) / 1000;
                if (!(s.Due(warm - 1) < s.WarmupEnd && s.Due(warm) >= s.WarmupEnd))
                {
                    bad.Add($"{rate}/s warmup {warmupMs}ms");
                }
            }
        }

        Assert.True(bad.Count == 0, $"{bad.Count} cases misplace the warmup boundary, e.g. {string.Join("; ", bad.Take(5))}");
    }

    [Fact]
    public void End_and_warmup_end_are_the_durations_to_the_tick()
    {
        var bad = new List<string>();
        for (var ms = 1; ms <= 100_000; ms++)
        {
            var d = TimeSpan.FromMilliseconds(ms);
            var s = new LatencySchedule(100, d, d);
            s.Begin(0);
            var expected = (long)((Int128)d.Ticks * Freq / TimeSpan.TicksPerSecond);
            if (s.End != expected || s.WarmupEnd != expected)
            {
                bad.Add($"{ms}ms: {s.End} ticks, expected {expected}");
            }
        }

        Assert.True(bad.Count == 0, $"{bad.Count} durations are off, e.g. {string.Join("; ", bad.Take(5))}");
    }

    [Fact]
    public void Schedule_does_not_depend_on_the_start_timestamp()
    {
        var a = new LatencySchedule(29, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
        var b = new LatencySchedule(29, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
        a.Begin(0);
        const long offset = 987_654_321_987;
        b.Begin(offset);
        Assert.Equal(a.End + offset, b.End);
        Assert.Equal(a.WarmupEnd + offset, b.WarmupEnd);
        for (var k = 0; k < 200; k++)
        {
            Assert.Equal(a.Due(k) + offset, b.Due(k));
        }
    }

    [Fact]
    public void Stride_partition_covers_every_batch_once()
    {
        // PacedPublisher i sends batches i, i + n, i + 2n, ...: together they send the schedule's batches
        // before End exactly once, in due order per publisher.
        var s = new LatencySchedule(1_000, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        s.Begin(Stopwatch.GetTimestamp());
        const int publishers = 3;
        var seen = new List<long>();
        for (var i = 0; i < publishers; i++)
        {
            for (long k = i; s.Due(k) < s.End; k += publishers)
            {
                seen.Add(k);
            }
        }

        Assert.Equal(Enumerable.Range(0, 1_000).Select(k => (long)k), seen.Order());
    }

    [Fact]
    public void Ticks_convert_to_nanoseconds()
    {
        Assert.Equal(0, LatencySchedule.ToNanoseconds(0));
        Assert.Equal(1_000_000_000, LatencySchedule.ToNanoseconds(Freq));
        Assert.Equal(250_000_000, LatencySchedule.ToNanoseconds(Freq / 4));
        Assert.Equal(3_600_000_000_000, LatencySchedule.ToNanoseconds(Freq * 3600));
        Assert.True(LatencySchedule.ToNanoseconds(-Freq) < 0);
    }

    private static long CountBefore(LatencySchedule s, long timestamp)
    {
        long k = 0;
        while (s.Due(k) < timestamp)
        {
            k++;
        }

        return k;
    }
}
