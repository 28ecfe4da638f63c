using NsqSharp.Chaos.History;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.History;

/// <summary>Completions pair with their process's open invoke; a history that breaks that is malformed.</summary>
public sealed class OpPairerTests
{
    [Fact]
    public void CompletionPairsWithItsProcesssInvoke()
    {
        var pairer = new OpPairer();
        var ops = HistoryReader.ReadText(Text(Enq(0, "invoke", 1, 1), Enq(1, "invoke", 2, 2), Enq(0, "ok", 1, 3), NemesisLine("start", "x", 4))).ToList();

        Assert.Null(pairer.Pair(ops[0]));
        Assert.Null(pairer.Pair(ops[1]));
        Assert.Same(ops[0], pairer.Pair(ops[2]));
        Assert.Null(pairer.Pair(ops[3]));
        Assert.Same(ops[1], Assert.Single(pairer.Open));
    }

    [Fact]
    public void CompletionWithoutAnInvokeIsMalformed()
    {
        var e = Malformed(Enq(0, "invoke", 1, 1), Enq(0, "ok", 1, 2), Enq(0, "ok", 1, 3));

        Assert.Equal("line 3: ok enqueue of process 0 has no open invoke", e.Message);
    }

    [Fact]
    public void SecondInvokeWhileOneIsOpenIsMalformed()
    {
        var e = Malformed(Enq(0, "invoke", 1, 1), DeqInvoke(0, 2));

        Assert.Equal("line 2: process 0 invokes dequeue while its enqueue from line 1 is still open", e.Message);
    }

    [Fact]
    public void CompletionOfAnotherFunctionIsMalformed()
    {
        var e = Malformed(Enq(0, "invoke", 1, 1), DeqOk(0, 1, 2));

        Assert.Equal("line 2: ok dequeue of process 0 completes its enqueue from line 1", e.Message);
    }

    [Fact]
    public void AProcessMayInvokeAgainAfterAnInfo()
    {
        var r = Check(Enq(0, "invoke", 1, 1), Enq(0, "info", 1, 2), Enq(0, "invoke", 2, 3), Enq(0, "ok", 2, 4));

        Assert.Equal((2L, 1L, 1L), (r.Attempted, r.Acked, r.Indeterminate));
    }
}
