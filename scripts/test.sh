#!/usr/bin/env bash
# Runs every test: the .NET suites (unit + integration against real processes on 127.0.0.1)
# and the JavaScript interop suite (nsqjs against our executables).
# Prints one closing line "tests: N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
status=0
dotnet build NsqSharp.sln -c Release -nologo -v quiet || exit 1
dotnet test NsqSharp.sln -c Release --no-build -nologo --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=1
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
# Failures scroll far up a long log; keep each one's name and message for the closing summary.
failures=$(mktemp)
awk '/^  Failed [A-Za-z]/ {grab=40} grab > 0 {print; grab--; if (/^  Stack Trace:/) grab=3}' "$log" > "$failures"
# A test host that could not start aborts its run without failing a test: say so, with its error.
grep -B12 -m3 'Test Run Aborted' "$log" >> "$failures" || true
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ -f interop/nsqjs/package.json ]; then
  (cd interop/nsqjs && npm ci --no-audit --no-fund --silent) || exit 1
  (cd interop/nsqjs && node --test --test-reporter=spec --test-concurrency=1 test/) 2>&1 | tee "$log" || status=1
  js_pass=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
  js_fail=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
  passed=$((passed + js_pass)); failed=$((failed + js_fail))
fi
# The chaos harness's short set (chaos-tests/README.md): a real cluster in network namespaces under real faults, each
# history judged by the checker; then its self-test, a broker that acknowledges before replicating, which the checker
# must catch. Needs root (namespaces, iptables); skipped with the reason elsewhere, except under CI.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v iptables >/dev/null; then
  chaos_out=$(mktemp -d /tmp/nsqsharp-chaos-XXXXXX)
  chaos() { # NAME EXPECT ARGS...: one run; EXPECT valid|caught
    local name=$1 expect=$2 rc; shift 2
    SKIP_BUILD=1 chaos-tests/run.sh "$@" --out="$chaos_out/$name" > "$chaos_out/$name.out" 2> "$chaos_out/$name.log"; rc=$?
    local last; last=$(tail -n 1 "$chaos_out/$name.out") # stdout's last line is the checker's JSON object
    # (a run that injected no fault proves nothing: it fails too)
    if { [ "$expect" = valid ] && [ $rc -eq 0 ] && ! grep -Eq '^\{"valid":true,"acked":[0-9]+,"lost":0,"unexpected":0,"duplicated":[0-9]+,"recovered":[0-9]+,"faults":0,' <<<"$last"; } || { [ "$expect" = caught ] && [ $rc -eq 1 ] && grep -Eq '^\{"valid":false,"acked":[0-9]+,"lost":[1-9]' <<<"$last"; }; then
      echo "  Passed chaos $name: $last" | cut -c1-220; passed=$((passed + 1))
    else
      echo "  Failed chaos $name (exit $rc, expected $expect): $last" | cut -c1-400 | tee -a "$failures"
      tail -n 25 "$chaos_out/$name.log" >> "$failures"; failed=$((failed + 1))
    fi
  }
  for scenario in kill-leader pause-leader partition-leader etcd-restart; do
    chaos "$scenario" valid --scenario="$scenario" --time=30s --seed=1
  done
  # Consumers only at the drain: every acknowledged message must still be in the log after the partition.
  chaos partition-leader-consume-after valid --scenario=partition-leader --time=20s --seed=1 --consume-after
  # The same run on a broker that acknowledges on the leader's fsync alone must lose messages, and the checker must say so.
  chaos unsafe-broker-is-caught caught --scenario=partition-leader --time=20s --seed=1 --unsafe-broker --consume-after
  echo "chaos runs: histories and reports in $chaos_out"
elif [ "${CI:-}" = true ]; then
  echo "  Failed chaos: needs root, ip and iptables" | tee -a "$failures"; failed=$((failed + 1))
else
  echo "chaos: skipped (needs root, ip and iptables for network namespaces)"
fi
rm -f "$log"
if [ -s "$failures" ]; then
  echo "---- failed tests (name, message, first stack lines) ----"
  head -c 6000 "$failures"
fi
rm -f "$failures"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
