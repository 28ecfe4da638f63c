using System.Text;
using NsqSharp.Chaos.History;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.History;

/// <summary>Parsing history lines: the fields, both spellings of process and value, and errors that name the line.</summary>
public sealed class HistoryReaderTests
{
    [Fact]
    public void ReadsEveryFieldAndSkipsUnknownOnes()
    {
        var op = Assert.Single(HistoryReader.ReadText(Text(
            "{'process':3,'type':'ok','f':'dequeue','value':'v1','time':123,'node':'n1','partition':2,'offset':40,'channel':'ch','key':'k','error':null,'extra':{'a':[1,2]}}")));

        Assert.Equal(new HistoryOp(1, "3", OpType.Ok, "dequeue", "v1", 123) { Node = "n1", Partition = 2, Offset = 40, Channel = "ch", Key = "k" }, op);
    }

    [Fact]
    public void IntegersAndStringsAreReadAsText()
    {
        var ops = HistoryReader.ReadText(Text(
            "{'process':7,'type':'invoke','f':'enqueue','value':42,'time':1}",
            "{'process':'7','type':'ok','f':'enqueue','value':'42','time':2,'key':5}")).ToList();

        Assert.Equal([("7", "42"), ("7", "42")], ops.Select(o => (o.Process, o.Value)));
        Assert.Equal("5", ops[1].Key);
        Assert.Null(ops[0].Node);
    }

    [Fact]
    public void BlankLinesCrLfAndAByteOrderMarkAreTolerated()
    {
        var text = "\uFEFF" + Text("{'process':0,'type':'invoke','f':'enqueue','value':1,'time':1}").TrimEnd('\n') + "\r\n\r\n   \n" +
            Text("{'process':0,'type':'ok','f':'enqueue','value':1,'time':2}").TrimEnd('\n');

        var ops = HistoryReader.ReadText(text).ToList();

        Assert.Equal([1L, 4L], ops.Select(o => o.Line));
    }

    [Theory]
    [InlineData("{'process':0,'type':'invoke','f':'enqueue','value':1,'time':1", "not valid JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("garbage", "not valid JSON")]
    [InlineData("{'process':0,'type':'ok','f':'enqueue','value':1}", "missing \"time\"")]
    [InlineData("{'type':'ok','f':'enqueue','value':1,'time':1}", "missing \"process\"")]
    [InlineData("{'process':0,'f':'enqueue','value':1,'time':1}", "missing \"type\"")]
    [InlineData("{'process':0,'type':'ok','value':1,'time':1}", "missing \"f\"")]
    [InlineData("{'process':0,'type':'done','f':'enqueue','value':1,'time':1}", "\"type\" must be")]
    [InlineData("{'process':0,'type':'ok','f':'enqueue','value':{'a':1},'time':1}", "\"value\" must be a string or an integer")]
    [InlineData("{'process':0,'type':'ok','f':'enqueue','value':1.5,'time':1}", "\"value\" must be a string or an integer")]
    [InlineData("{'process':true,'type':'ok','f':'enqueue','value':1,'time':1}", "\"process\" must be a string or an integer")]
    [InlineData("{'process':0,'type':'ok','f':'enqueue','value':1,'time':'soon'}", "\"time\" must be an integer")]
    [InlineData("{'process':0,'type':'ok','f':'dequeue','value':1,'time':1,'offset':-0.5}", "\"offset\" must be an integer")]
    [InlineData("{'process':0,'type':'ok','f':'dequeue','value':1,'time':1,'partition':99999999999}", "\"partition\" is out of range")]
    [InlineData("{'process':0,'type':'ok','f':'enqueue','value':1,'time':1} {}", "not valid JSON")]
    public void MalformedLineIsAnErrorNamingItsLine(string bad, string reason)
    {
        var text = Text("{'process':9,'type':'invoke','f':'dequeue','value':null,'time':1}", "", bad);

        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadText(text).ToList());

        Assert.Equal(3, e.LineNumber);
        Assert.StartsWith("line 3: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8IsAnErrorNotACrash()
    {
        var bytes = Encoding.UTF8.GetBytes(Text("{'process':0,'type':'invoke','f':'enqueue','value':'")).ToList();
        bytes.RemoveAt(bytes.Count - 1);
        bytes.AddRange([0xC3, 0x28]);
        bytes.AddRange(Encoding.UTF8.GetBytes("','time':1}\n".Replace('\'', '"')));

        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.Read(new MemoryStream([.. bytes])).ToList());

        Assert.Equal(1, e.LineNumber);
    }

    [Fact]
    public void LinesAcrossReadBufferBoundariesAreWhole()
    {
        // Long values make lines straddle the reader's 64 KiB buffer many times over.
        var lines = Enumerable.Range(0, 300).Select(i => $"{{'process':{i},'type':'invoke','f':'enqueue','value':'{new string('x', 1000 + i)}','time':{i}}}").ToArray();

        var ops = HistoryReader.ReadText(Text(lines)).ToList();

        Assert.Equal(300, ops.Count);
        Assert.All(ops, o => Assert.Equal(1000 + ((int)o.Line - 1), o.Value!.Length));
    }

    [Fact]
    public void ALineLongerThanTheLimitIsAnError()
    {
        var text = Text("{'process':0,'type':'invoke','f':'enqueue','value':'" + new string('x', 2 << 20) + "','time':1}");

        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadText(text).ToList());

        Assert.Equal(1, e.LineNumber);
    }

    [Fact]
    public void EnqueueInvokeWithoutAValueIsMalformed()
    {
        var e = Malformed("{'process':0,'type':'invoke','f':'enqueue','value':null,'time':1}");

        Assert.Equal("line 1: enqueue invoke without a value", e.Message);
    }
}
