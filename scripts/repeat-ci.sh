#!/usr/bin/env bash
# Flake hunt: runs .ci/run N times, each on a fresh clone of the current commit, one after another,
# and prints one line per run plus the failing tests' names. A suite that fails once is flaky.
#
#   scripts/repeat-ci.sh 10            # clones HEAD of this checkout into /tmp/nsqsharp-ci-*/
#   KEEP=1 scripts/repeat-ci.sh 3      # keep the clones (default: removed after each run)
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
commit=$(git rev-parse HEAD)
summary=$(mktemp /tmp/nsqsharp-ci-summary-XXXXXX)
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d /tmp/nsqsharp-ci-XXXXXX)
  git clone -q "$PWD" "$dir/repo" && git -C "$dir/repo" checkout -q "$commit"
  start=$(date +%s)
  (cd "$dir/repo" && CI=true .ci/run) > "$dir/log" 2>&1
  rc=$?
  line=$(grep -E '^tests: ' "$dir/log" | tail -1)
  echo "run $i/$runs: exit $rc in $(( $(date +%s) - start )) s; ${line:-no summary line} (log $dir/log)" | tee -a "$summary"
  grep -E '^\s+Failed [A-Za-z]|^✖ ' "$dir/log" | sed 's/^/    /' | tee -a "$summary"
  if [[ "${KEEP:-0}" != 1 && $rc -eq 0 ]]; then rm -rf "$dir"; fi
done
echo "---"; echo "$(grep -c 'exit 0' "$summary") of $runs runs passed ($commit)"; rm -f "$summary"
