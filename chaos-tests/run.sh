#!/usr/bin/env bash
# The Jepsen-style harness (chaos-tests/README.md). Builds what it needs (Release), then runs nsq_chaos:
#   chaos-tests/run.sh --scenario=NAME [--time=60s] [--seed=N] [--out=DIR]   one scenario; exit 0 iff valid
#   chaos-tests/run.sh --scenario=list                                        the scenarios
#   chaos-tests/run.sh --check=HISTORY.jsonl [--out=DIR]                      only the checker, on a saved history
# The last line printed is one JSON object: {"valid":bool,"acked":N,"lost":N,"unexpected":N,"duplicated":N,...}.
# Network faults run each node in its own network namespace and need root (ip, iptables); without them the harness
# falls back to loopback mode (kill and pause faults only) and says so. SKIP_BUILD=1 skips the build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && for p in nsqd/nsqd lookupd/nsqlookupd chaos-tests/NsqSharp.Chaos; do
     dotnet build "$p" -c Release -nologo -v q || exit 1
   done) > /dev/null || { echo "chaos-tests/run.sh: build failed (run dotnet build -c Release to see why)" >&2; exit 2; }
fi
exec "$ROOT/artifacts/bin/NsqSharp.Chaos/release/nsq_chaos" "$@"
