using System.Text;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.History;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Chaos.Tests.History;

/// <summary>The workload's recorder: the exact lines, the injected clock, buffering, and many threads at once.</summary>
public sealed class HistoryWriterTests
{
    [Fact]
    public void WritesTheContractsLinesStampedByTheInjectedClock()
    {
        var clock = new FakeTimeProvider();
        var stream = new MemoryStream();
        using (var history = new HistoryWriter(stream, clock, leaveOpen: true))
        {
            Assert.Equal(0, history.Invoke(3, HistoryNames.Enqueue, "v1"));
            clock.Advance(TimeSpan.FromMilliseconds(1.5));
            Assert.Equal(1_500_000, history.Ok(3, HistoryNames.Enqueue, "v1", new OpDetails { Node = "n1", Partition = 0 }));
            history.NemesisStart("partition n1 | n2 \"n3\"");
            clock.Advance(TimeSpan.FromSeconds(2));
            history.Info(4, HistoryNames.Dequeue, null, new OpDetails { Error = "timeout" });
            history.Fail("p5", HistoryNames.Dequeue, "x", new OpDetails { Offset = 9, Channel = "c", Key = "k" });
            history.NemesisStop("partition n1 | n2 \"n3\"");
        }

        Assert.Equal(
            """
            {"process":3,"type":"invoke","f":"enqueue","value":"v1","time":0}
            {"process":3,"type":"ok","f":"enqueue","value":"v1","time":1500000,"node":"n1","partition":0}
            {"process":"nemesis","type":"info","f":"start","value":"partition n1 | n2 \"n3\"","time":1500000}
            {"process":4,"type":"info","f":"dequeue","value":null,"time":2001500000,"error":"timeout"}
            {"process":"p5","type":"fail","f":"dequeue","value":"x","time":2001500000,"offset":9,"channel":"c","key":"k"}
            {"process":"nemesis","type":"info","f":"stop","value":"partition n1 | n2 \"n3\"","time":2001500000}

            """.ReplaceLineEndings("\n"),
            Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public void LinesAreBufferedUntilFlushOrDispose()
    {
        var stream = new MemoryStream();
        var history = new HistoryWriter(stream, new FakeTimeProvider(), leaveOpen: true);
        history.Invoke(0, HistoryNames.Enqueue, "1");
        Assert.Equal(0, stream.Length);

        history.Flush();
        var flushed = stream.Length;
        Assert.True(flushed > 0);

        history.Ok(0, HistoryNames.Enqueue, "1");
        history.Dispose();
        Assert.True(stream.Length > flushed);
        Assert.Throws<ObjectDisposedException>(() => history.Invoke(0, HistoryNames.Enqueue, "2"));
        history.Dispose();
    }

    [Fact]
    public void ConcurrentWritersProduceWholeLinesInTimeOrder()
    {
        using var dir = new TempDirectory("chaos-writer");
        var path = Path.Combine(dir.Path, "history.jsonl");
        const int Threads = 8, PerThread = 2_000;
        using (var history = new HistoryWriter(path))
        {
            Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, p =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    var value = $"{p}-{i}";
                    history.Invoke(p, HistoryNames.Enqueue, value);
                    history.Ok(p, HistoryNames.Enqueue, value, new OpDetails { Node = "n1" });
                }
            });
            Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, p =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    history.Invoke(100 + p, HistoryNames.Dequeue, null);
                    history.Ok(100 + p, HistoryNames.Dequeue, $"{p}-{i}");
                }
            });
        }

        var ops = HistoryReader.ReadFile(path).ToList();
        Assert.Equal(Threads * PerThread * 4, ops.Count);
        Assert.True(ops.Zip(ops.Skip(1)).All(pair => pair.First.Time <= pair.Second.Time), "times decrease somewhere");

        var r = TotalQueueChecker.Check(ops);
        Assert.True(r.Valid);
        Assert.Equal((Threads * PerThread, Threads * PerThread, 0L), (r.Acked, r.Dequeued, r.Duplicated));
    }

    [Fact]
    public void ProcessIdsAreNumbersOrNames()
    {
        ProcessId number = 7, name = "nemesis";

        Assert.Equal(("7", "nemesis"), (number.ToString(), name.ToString()));
        Assert.Equal(ProcessId.Nemesis, name);
        Assert.Equal(7, number.Number);
    }
}
