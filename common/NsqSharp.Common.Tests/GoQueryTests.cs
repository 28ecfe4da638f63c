using NsqSharp.Common.Http;
using Xunit;

namespace NsqSharp.Common.Tests;

public sealed class GoQueryTests
{
    [Fact]
    public void ParsesLikeGo()
    {
        Assert.True(GoQuery.TryParse("?topic=a%20b&topic=c&channel=x+y&empty=&flag", out var q));
        Assert.Equal("a b", q.Get("topic"));
        Assert.Equal("x y", q.Get("channel"));
        Assert.Equal("", q.Get("empty"));
        Assert.Equal("", q.Get("flag"));
        Assert.Null(q.Get("missing"));
    }

    [Theory]
    [InlineData("topic=%zz")]
    [InlineData("topic=%4")]
    [InlineData("a=1;b=2")]
    public void RejectsWhatGoRejects(string raw) => Assert.False(GoQuery.TryParse(raw, out _));
}
