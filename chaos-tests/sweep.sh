#!/usr/bin/env bash
# Every scenario over several seeds, one after another, with a markdown table of the results (for
# docs/RELIABILITY.md). Exit 0 iff every run was valid.
#   chaos-tests/sweep.sh [--time=40s] [--seeds="1 2 3"] [--out=DIR] [--scenarios="kill-leader pause-leader"]
# Defaults: every single-fault scenario (not the mixed soaks), seeds 1 2 3, 40 s each (about 1.5 min per run with
# the cluster's start, the drain and the check). SKIP_BUILD=1 skips the build.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
time=40s; seeds="1 2 3"; out=""; scenarios=""
for arg in "$@"; do
  case "$arg" in
    --time=*) time=${arg#*=} ;;
    --seeds=*) seeds=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --scenarios=*) scenarios=${arg#*=} ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sweep.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d /tmp/nsqsharp-sweep-XXXXXX)}
mkdir -p "$out"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  "$ROOT/chaos-tests/run.sh" --scenario=list > /dev/null || exit 2 # builds once
fi
if [[ -z "$scenarios" ]]; then
  scenarios=$(SKIP_BUILD=1 "$ROOT/chaos-tests/run.sh" --scenario=list | awk '{print $1}' | grep -v '^mixed')
fi
field() { grep -o "\"$1\":[^,}]*" <<< "$2" | head -n 1 | cut -d: -f2; } # the first is top-level; "nodes" comes later
table="$out/table.md"
echo "| scenario | seed | valid | acked | lost | unexpected | duplicated | recovered | faults | indeterminate |" > "$table"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|" >> "$table"
total=0; invalid=0
for scenario in $scenarios; do
  for seed in $seeds; do
    name="$scenario-seed$seed"; total=$((total + 1))
    SKIP_BUILD=1 "$ROOT/chaos-tests/run.sh" --scenario="$scenario" --time="$time" --seed="$seed" --out="$out/$name" \
      > "$out/$name.out" 2> "$out/$name.log"
    rc=$?
    last=$(tail -n 1 "$out/$name.out")
    valid=$(field valid "$last")
    [[ $rc -eq 0 && "$valid" == true ]] || invalid=$((invalid + 1))
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s of %s | %s |\n' "$scenario" "$seed" \
      "$([[ "$valid" == true ]] && echo yes || echo "**no (exit $rc)**")" \
      "$(field acked "$last")" "$(field lost "$last")" "$(field unexpected "$last")" "$(field duplicated "$last")" \
      "$(field recovered "$last")" "$(field faults "$last")" "$(field faults_planned "$last")" \
      "$(field indeterminate "$last")" | tee -a "$table"
  done
done
echo "sweep: $((total - invalid)) of $total runs valid; table $table, histories and reports in $out"
[[ $invalid -eq 0 ]]
