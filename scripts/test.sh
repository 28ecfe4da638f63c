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
rm -f "$log"
if [ -s "$failures" ]; then
  echo "---- failed tests (name, message, first stack lines) ----"
  head -c 6000 "$failures"
fi
rm -f "$failures"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
