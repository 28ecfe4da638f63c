#!/usr/bin/env bash
# Produces the figures in docs/BENCHMARKS.md. Builds Release, then for each round starts a fresh
# nsqd (ours) on free 127.0.0.1 ports with a temp --data-path per scenario, runs the scenarios with
# nsq_bench, and finally prints min / median / max per scenario as a markdown table.
#
#   bench/run-benchmarks.sh                      # 3 rounds, 10 s per run
#   RUNS=5 RUNFOR=20s bench/run-benchmarks.sh
#   UPSTREAM_NSQD=/path/to/nsqd bench/run-benchmarks.sh   # adds the upstream rows
#   SUITE=resources bench/run-benchmarks.sh      # RSS/fds: 10k and 50k topics, 10k idle connections,
#                                                # a stuck consumer under 1 GB of 1 MB messages (one round)
#
# Env: RUNS (3), RUNFOR (10s), RATE (latency mode msgs/s, 10000), CHANNELS (fan-out, 4),
#      UPSTREAM_NSQD (upstream nsqd binary; rows say "not measured here" without it),
#      OUT (directory for logs, JSON lines and SVGs; default a new /tmp/nsq-bench-* dir), SKIP_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
RUNFOR=${RUNFOR:-10s}
RATE=${RATE:-10000}
CHANNELS=${CHANNELS:-4}
UPSTREAM_NSQD=${UPSTREAM_NSQD:-}
OUT=${OUT:-$(mktemp -d /tmp/nsq-bench-XXXXXX)}
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

NSQD=${NSQD:-"$ROOT/artifacts/bin/nsqd/release/nsqd"}
BENCH="$ROOT/artifacts/bin/nsq_bench/release/nsq_bench"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && dotnet build nsqd/nsqd -c Release -nologo -v q && dotnet build bench/nsq_bench -c Release -nologo -v q) >&2
fi

BROKER_PID=""
BROKER_DATA=""
TCP_ADDRESS=""

cleanup() {
  stop_broker
}
trap cleanup EXIT

# A free loopback port below the kernel's ephemeral range (outgoing connections cannot hold it), that
# nothing answers on (bash /dev/tcp probe; no other tools needed).
free_port() {
  local port
  while true; do
    port=$(( 20000 + RANDOM % 12000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# start_broker NAME BINARY [FLAGS...]: fresh data dir and ports; waits until the TCP port accepts.
start_broker() {
  local name=$1 binary=$2
  shift 2
  local tcp http
  tcp=$(free_port)
  http=$(free_port)
  while [[ "$http" == "$tcp" ]]; do http=$(free_port); done
  BROKER_DATA=$(mktemp -d "/tmp/nsq-bench-data-$name-XXXXXX")
  TCP_ADDRESS="127.0.0.1:$tcp"
  "$binary" --tcp-address="$TCP_ADDRESS" --http-address="127.0.0.1:$http" --broadcast-address=127.0.0.1 \
    --data-path="$BROKER_DATA" "$@" > "$OUT/broker-$name.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$tcp") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "broker $name exited during startup; see $OUT/broker-$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "broker $name did not listen on $TCP_ADDRESS within 30s" >&2
  return 1
}

stop_broker() {
  if [[ -n "$BROKER_PID" ]]; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$BROKER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
  fi
  if [[ -n "$BROKER_DATA" ]]; then
    rm -rf "$BROKER_DATA"
    BROKER_DATA=""
  fi
}

# bench LABEL VERB [FLAGS...]: one nsq_bench run against the current broker; keeps its JSON line.
bench() {
  local label=$1 verb=$2
  shift 2
  local slug
  slug=$(printf %s "$label" | tr -c "A-Za-z0-9_." "-")
  echo "== $label (round $round, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$BENCH" "$verb" --nsqd-tcp-address="$TCP_ADDRESS" --broker-pid="$BROKER_PID" --runfor="$RUNFOR" \
    --label="$label" --progress=off --svg-out="$OUT/$slug-r$round" "$@" \
    > "$OUT/$slug-r$round.log" 2>&1 || echo "   (run failed, see $OUT/$slug-r$round.log)" >&2
  grep -v '^wrote ' "$OUT/$slug-r$round.log" | grep '^\[' >&2 || true
  tail -n 1 "$OUT/$slug-r$round.log" >> "$RESULTS" || true
}

# resource BROKER-LABEL BINARY SCENARIO [FLAGS...]: a fresh broker, one nsq_bench resources run, its JSON line kept.
resource() {
  local name=$1 binary=$2 scenario=$3
  shift 3
  start_broker "$name-$scenario" "$binary"
  echo "== resources $scenario $* on $name (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$BENCH" resources --nsqd-tcp-address="$TCP_ADDRESS" --broker-pid="$BROKER_PID" --scenario="$scenario" \
    --label="$name" --progress=off "$@" > "$OUT/resources-$name-$scenario.log" 2>&1 || echo "   (run failed, see $OUT/resources-$name-$scenario.log)" >&2
  tail -n 1 "$OUT/resources-$name-$scenario.log" | tee -a "$RESULTS" >&2
  stop_broker
}

if [[ "${SUITE:-throughput}" == resources ]]; then
  ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  for b in "ours:$NSQD" ${UPSTREAM_NSQD:+"upstream:$UPSTREAM_NSQD"}; do
    resource "${b%%:*}" "${b#*:}" topics --count=10000
    resource "${b%%:*}" "${b#*:}" topics --count=50000
    resource "${b%%:*}" "${b#*:}" idle --count=10000
    resource "${b%%:*}" "${b#*:}" stuck --size=1048576 --bytes=1073741824
  done
  echo; echo "Results (JSON lines) in $RESULTS"
  exit 0
fi

for round in $(seq 1 "$RUNS"); do
  # The tool's own ceiling (null broker in-process): broker figures far below it are the broker's.
  echo "== selftest (round $round, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$BENCH" selftest --runfor=5s --progress=off > "$OUT/selftest-r$round.log" 2>&1 || true
  grep '^\[' "$OUT/selftest-r$round.log" >&2 || true
  tail -n 1 "$OUT/selftest-r$round.log" >> "$RESULTS" || true

  # Single node, fsync before every acknowledgement (our default): writer, then reader drains the backlog.
  start_broker ours-fsync "$NSQD"
  bench "fsync writer" writer
  bench "fsync reader" reader
  stop_broker

  # Single node, relaxed sync (fsync every 2500 messages or 2 s, like upstream's defaults).
  start_broker ours-relaxed "$NSQD" --sync-every=2500 --sync-timeout=2s
  bench "relaxed writer" writer
  bench "relaxed reader" reader
  stop_broker

  # Writers and readers at once, and consumer fan-out to $CHANNELS channels (fsync default).
  start_broker ours-fanout "$NSQD"
  bench "fsync pubsub" pubsub --topic=sub_bench_pubsub
  bench "fsync fanout x$CHANNELS" fanout --channels="$CHANNELS" --topic=sub_bench_fanout
  stop_broker

  # Open-loop latency at a fixed rate (fsync default).
  start_broker ours-latency "$NSQD"
  bench "fsync latency ${RATE}/s" latency --rate="$RATE"
  stop_broker

  if [[ -n "$UPSTREAM_NSQD" && -x "$UPSTREAM_NSQD" ]]; then
    # Upstream as its bench.sh runs it (--mem-queue-size=1000000; it fsyncs every 2500 messages).
    start_broker upstream "$UPSTREAM_NSQD" --mem-queue-size=1000000
    bench "upstream writer" writer
    bench "upstream reader" reader
    stop_broker
    start_broker upstream-latency "$UPSTREAM_NSQD" --mem-queue-size=1000000
    bench "upstream latency ${RATE}/s" latency --rate="$RATE"
    stop_broker
  fi
done

echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r), .NET $(dotnet --version 2>/dev/null || echo '?')"
echo "Runs: $RUNS x $RUNFOR per scenario; results in $OUT"
echo
"$BENCH" table "$RESULTS"
if [[ -z "$UPSTREAM_NSQD" || ! -x "$UPSTREAM_NSQD" ]]; then
  echo; echo "upstream nsqd: not measured here (no binary given; set UPSTREAM_NSQD=/path/to/nsqd)"
fi
