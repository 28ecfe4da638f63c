using Xunit;

namespace NsqSharp.Common.Tests.Metrics;

/// <summary>The test parser must itself be strict, or the exporter tests prove little.</summary>
public class ExpositionParserTests
{
    [Fact]
    public void AcceptsWellFormedText()
    {
        const string text = "# HELP a_total Help with \\\\ and \\n.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n"
            + "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 4.5\nh_count 2\n";
        List<Family> families = ExpositionParser.Parse(text);
        Assert.Equal(["a_total", "h"], families.Select(f => f.Name));
        Assert.Equal("Help with \\ and \n.", families[0].Help);
        Assert.Equal("q\"", families[0].Samples[0].Label("y"));
    }

    [Theory]
    [InlineData("# TYPE a gauge\na 1")] // no final newline
    [InlineData("# TYPE a gauge\r\na 1\n")] // CR
    [InlineData("# TYPE a gauge\n\na 1\n")] // blank line
    [InlineData("a 1\n")] // no TYPE
    [InlineData("# TYPE a gauge\n# TYPE a gauge\na 1\n")] // TYPE twice
    [InlineData("# TYPE a gauge\na 1\n# HELP a late\n")] // HELP after samples
    [InlineData("# TYPE a wibble\na 1\n")] // unknown type
    [InlineData("# comment\n# TYPE a gauge\na 1\n")] // free comment
    [InlineData("# TYPE a.b gauge\na.b 1\n")] // bad metric name
    [InlineData("# TYPE a gauge\na{1x=\"v\"} 1\n")] // bad label name
    [InlineData("# TYPE a gauge\na{x=\"\\t\"} 1\n")] // bad escape
    [InlineData("# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n")] // duplicate label
    [InlineData("# TYPE a gauge\na 1\na 2\n")] // duplicate sample
    [InlineData("# TYPE a gauge\na one\n")] // bad value
    [InlineData("# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n")] // sample outside its block
    [InlineData("# TYPE a_total counter\na 1\n")] // counter sample name differs from family
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")] // not cumulative
    [InlineData("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n")] // no +Inf
    [InlineData("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n")] // count mismatch
    public void RejectsMalformedText(string text)
    {
        Assert.ThrowsAny<Exception>(() => ExpositionParser.Parse(text));
    }
}
