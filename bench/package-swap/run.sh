#!/usr/bin/env bash
# Reproduces the "Snappier and prometheus-net" figures in docs/BENCHMARKS.md: builds, in a temporary
# directory, the replaced hand-written code (from commit 717a1c9) next to the current code, and times
# both with Stopwatch loops. Usage: bench/package-swap/run.sh [snappy|metrics|all]; SWAP=1 times the
# new code first in each round (the order matters for scrapes: run both and average).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
old=717a1c9
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/old "$dir"/new "$dir"/oldm "$dir"/newm
for f in SnappyBlockEncoder SnappyBlockDecoder SnappyFrameReader SnappyFrameWriter SnappyFraming SnappyFrameStream; do
  git -C "$repo" show "$old:common/NsqSharp.Common/Compression/$f.cs" | sed 's/^namespace NsqSharp.Common.Compression;/namespace OldSnappy;/; s/^using NsqSharp.Common;//' > "$dir/old/$f.cs"
done
git -C "$repo" show "$old:common/NsqSharp.Common/Crc32C.cs" | sed 's/^namespace NsqSharp.Common;/namespace OldSnappy;/' > "$dir/old/Crc32C.cs"
for f in SnappyFrameReader SnappyFraming SnappyFrameStream; do
  sed 's/^namespace NsqSharp.Common.Compression;/namespace NewSnappy;/' "$repo/common/NsqSharp.Common/Compression/$f.cs" > "$dir/new/$f.cs"
done
sed 's/^namespace NsqSharp.Common;/namespace NewSnappy;/' "$repo/common/NsqSharp.Common/Crc32C.cs" > "$dir/new/Crc32C.cs"
for f in AtomicDouble ExpositionWriter HistogramBuckets MetricFamily MetricKind MetricSeries PrometheusExporter PrometheusText TagSet; do
  git -C "$repo" show "$old:common/NsqSharp.Common/Metrics/$f.cs" | sed 's/^namespace NsqSharp.Common.Metrics;/namespace OldMetrics;/' > "$dir/oldm/$f.cs"
done
for f in "$repo"/common/NsqSharp.Common.Metrics/*.cs; do
  sed 's/^namespace NsqSharp.Common.Metrics;/namespace NewMetrics;/' "$f" > "$dir/newm/$(basename "$f")"
done
sed 's/^namespace NsqSharp.Common.Tests.Compression;/namespace Bench;/; s/internal sealed class/public sealed class/' \
  "$repo/common/NsqSharp.Common.Tests/Compression/InMemoryPipeStream.cs" > "$dir/InMemoryPipeStream.cs"
cp "$repo/bench/package-swap/Program.cs.txt" "$dir/Program.cs"
cat > "$dir/bench.csproj" <<'PROJ'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings><AllowUnsafeBlocks>true</AllowUnsafeBlocks><LangVersion>latest</LangVersion>
    <InvariantGlobalization>true</InvariantGlobalization><TieredPGO>true</TieredPGO><NoWarn>CS1591;NU1603</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Snappier" Version="1.3.1" />
    <PackageReference Include="prometheus-net" Version="8.2.1" />
  </ItemGroup>
</Project>
PROJ
dotnet build "$dir" -c Release -nologo -v quiet >/dev/null
dotnet "$dir/bin/Release/net10.0/bench.dll" "${1:-all}"
