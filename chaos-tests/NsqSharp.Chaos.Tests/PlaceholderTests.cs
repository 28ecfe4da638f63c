using Xunit;

namespace NsqSharp.Chaos.Tests;

public class PlaceholderTests
{
    [Fact]
    public void Harness_assembly_loads() => Assert.NotNull(typeof(PlaceholderTests).Assembly);
}
