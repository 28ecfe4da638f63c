using NsqSharp.Common.Cli;
using Xunit;

namespace NsqSharp.Common.Tests;

public class GoStyleArgsTests
{
    private static readonly HashSet<string> Bools = ["print-topic", "snappy"];
    private static readonly HashSet<string> Values = ["tcp-address"];
    private static readonly HashSet<string> None = [];

    [Fact]
    public void SwitchStyleBooleansAndShortNamesForTools()
    {
        Assert.Equal(
            ["--topic=a", "--topic", "b", "--print-topic", "-n", "5", "--max-in-flight", "-1", "--help"],
            GoStyleArgs.Normalize(["-topic=a", "--topic", "b", "-print-topic=true", "-n=5", "--max-in-flight", "-1", "-h"], None, None, Bools, new HashSet<string> { "n" }));
        Assert.Equal(["--channel", "c"], GoStyleArgs.Normalize(["-print-topic=false", "-channel", "c"], None, None, Bools));
        Assert.Equal(["--", "-x"], GoStyleArgs.Normalize(["--", "-x"], Bools, None));
    }

    [Fact]
    public void ExplicitBooleansAndValueFlagsForServers()
    {
        // upstream test suites run "nsqd --snappy --tls-key=k -tcp-address 127.0.0.1:4150"
        Assert.Equal(
            ["--snappy=true", "--tls-key=k", "--tcp-address=127.0.0.1:4150", "--snappy=false"],
            GoStyleArgs.Normalize(["--snappy", "--tls-key=k", "-tcp-address", "127.0.0.1:4150", "-snappy=false"], Bools, Values));
    }

    [Theory]
    [InlineData("true", true, true)]
    [InlineData("T", true, true)]
    [InlineData("0", true, false)]
    [InlineData("yes", false, false)]
    public void ParsesBooleansAsGo(string text, bool valid, bool expected)
    {
        Assert.Equal(valid, GoStyleArgs.TryParseGoBool(text, out var value));
        Assert.Equal(expected, value);
    }
}
