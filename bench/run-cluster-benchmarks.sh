#!/usr/bin/env bash
# Cluster mode figures (issue 10; docs/BENCHMARKS.md, "Cluster mode (issue 10)"). Builds Release, starts its own cluster on
# 127.0.0.1 (etcd, one nsqlookupd in cluster mode, three nsqd n1..n3), and measures in one run on this machine:
#   1. single-node fsync writer: a standalone nsqd (fresh per round, fsync before OK), SIZE-byte messages, MPUB BATCH
#   2. cluster writer: the same load on a topic with REPLICAS replicas and MIN_ISR, found through --lookupd-http-address
#   3. cluster ack latency at RATE msg/s (p50 / p90 / p99 / p99.9 / max), a fresh topic per round, same settings
#   (with WIDE > 0, 1 and 2 again with WIDE connections instead of one per processor: more batches in flight)
#   4. failover: KILLS SIGKILLs of the topic's leader (nsq_bench failover), each node restarted by this script and
#      back in the ISR before the next kill; time from the kill to the first acknowledged publish sent after it
# 1-3 run RUNS rounds, interleaved; 4 runs once. Then min / median / max as markdown tables (also in $OUT/results.md),
# with the cluster writer's median as a percentage of the single-node one.
#
#   bench/run-cluster-benchmarks.sh                      # RUNS=3 RUNFOR=10s RATE=10000 KILLS=5 WIDE=8
#   RUNS=5 RUNFOR=20s bench/run-cluster-benchmarks.sh
#   RUNS=0 NSQD_ARGS=--cluster-lease-ttl=1s bench/run-cluster-benchmarks.sh   # the failover alone, a shorter lease
#
# Env: RUNS (3), RUNFOR (10s), RATE (10000), KILLS (5), PARTITIONS (1), REPLICAS (3), MIN_ISR (2), SIZE (200),
#      BATCH (200), CONCURRENCY (connections per side, 0 = number of processors as bench_writer), WIDE (8; 0 = skip),
#      NSQD_ARGS (extra flags for every nsqd, single-node included), OUT (logs, JSON lines, tables; default a new
#      /tmp/nsq-cluster-bench-* directory), SKIP_BUILD=1, KEEP_DATA=1 (leave the data directories).
# Ports are free ones in 20000-32000, never 4150/4160/2379, so a scripts/run-cluster.sh can run beside it. Data lives
# under a temporary directory; everything is stopped (nodes, then lookupd, then etcd) and removed on exit, Ctrl-C or
# SIGTERM. Every wait is bounded. Needs etcd (Debian's etcd-server) and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/bench/$(basename "$0")"
NSQD="$ROOT/artifacts/bin/nsqd/release/nsqd"
LOOKUPD="$ROOT/artifacts/bin/nsqlookupd/release/nsqlookupd"
BENCH="$ROOT/artifacts/bin/nsq_bench/release/nsq_bench"

# start_node ID: (re)starts cluster node ID on its ports and data directory, records its pid, returns once it answers
# /ping (bounded). Used at start-up and, as "--start-node ID", by nsq_bench failover's --restart-cmd (the state comes from
# the file named by NSQ_CLUSTER_BENCH_STATE).
start_node() {
  local id=$1 tcp_var http_var
  tcp_var="TCP_$id" http_var="HTTP_$id"
  local tcp=${!tcp_var} http=${!http_var}
  mkdir -p "$DATA/$id"
  # Started from a subshell, so the node is no job of this shell (nsq_bench SIGKILLs it; its restart is not our child either).
  # shellcheck disable=SC2086 # NSQD_ARGS is a list of flags
  ( "$NSQD" --node-id="$id" --tcp-address="127.0.0.1:$tcp" --http-address="127.0.0.1:$http" --broadcast-address=127.0.0.1 \
      --data-path="$DATA/$id" --lookupd-tcp-address="127.0.0.1:$LOOKUPD_TCP" --etcd-endpoints="http://127.0.0.1:$ETCD_CLIENT" \
      --cluster-name=bench $NSQD_ARGS >> "$OUT/nsqd-$id.log" 2>&1 < /dev/null &
    echo $! > "$DATA/pids/$id.pid" )
  wait_http "nsqd $id" "http://127.0.0.1:$http/ping" "$(cat "$DATA/pids/$id.pid")" "$OUT/nsqd-$id.log"
}

# wait_http NAME URL PID LOG: polls URL (at most 30 s) while PID lives.
wait_http() {
  local name=$1 url=$2 pid=$3 log=$4
  for _ in $(seq 1 300); do
    if curl -sf -o /dev/null --max-time 1 "$url"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run-cluster-benchmarks: $name exited during start-up; see $log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "run-cluster-benchmarks: $name did not answer $url within 30 s; see $log" >&2
  return 1
}

if [[ "${1:-}" == --start-node ]]; then
  # shellcheck disable=SC1090 # written by the main run below
  source "${NSQ_CLUSTER_BENCH_STATE:?--start-node is for nsq_bench failover --restart-cmd during a run}"
  start_node "$2"
  exit 0
fi

RUNS=${RUNS:-3}
RUNFOR=${RUNFOR:-10s}
RATE=${RATE:-10000}
KILLS=${KILLS:-5}
PARTITIONS=${PARTITIONS:-1}
REPLICAS=${REPLICAS:-3}
MIN_ISR=${MIN_ISR:-2}
SIZE=${SIZE:-200}
BATCH=${BATCH:-200}
CONCURRENCY=${CONCURRENCY:-0}
WIDE=${WIDE:-8}
NSQD_ARGS=${NSQD_ARGS:-}
OUT=${OUT:-$(mktemp -d /tmp/nsq-cluster-bench-XXXXXX)}
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

for tool in etcd curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run-cluster-benchmarks: $tool is not installed (etcd: apt-get install etcd-server)" >&2; exit 1; }
done

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && for p in nsqd/nsqd lookupd/nsqlookupd bench/nsq_bench; do dotnet build "$p" -c Release -nologo -v q || exit 1; done) >&2
fi

DATA=$(mktemp -d /tmp/nsq-cluster-bench-data-XXXXXX)
mkdir -p "$DATA/pids"
STATE="$DATA/cluster.env"

# stop_pid NAME: SIGTERM the process recorded for NAME, SIGKILL after 10 s.
stop_pid() {
  local file="$DATA/pids/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$file"
}

BENCH_PID=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$BENCH_PID" ]]; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
  fi
  echo "run-cluster-benchmarks: stopping the nodes, lookupd, etcd" >&2
  local stoppers=()
  for n in single n1 n2 n3; do stop_pid "$n" & stoppers+=($!); done
  wait "${stoppers[@]}" 2>/dev/null || true
  stop_pid lookupd
  stop_pid etcd
  if [[ "${KEEP_DATA:-0}" == 1 ]]; then
    echo "run-cluster-benchmarks: data kept in $DATA" >&2
  else
    rm -rf "$DATA"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port in 20000-32000 that nothing answers on and this run has not taken yet.
TAKEN=" "
free_port() {
  local port
  while true; do
    port=$(( 20000 + RANDOM % 12000 ))
    if [[ "$TAKEN" != *" $port "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}
take_port() { local p; p=$(free_port); TAKEN+="$p "; printf -v "$1" %s "$p"; }
take_port ETCD_CLIENT; take_port ETCD_PEER; take_port LOOKUPD_TCP; take_port LOOKUPD_HTTP
for id in n1 n2 n3; do take_port "TCP_$id"; take_port "HTTP_$id"; done
take_port SINGLE_TCP; take_port SINGLE_HTTP
cat > "$STATE" <<STATE
DATA=$DATA
OUT=$OUT
NSQD=$NSQD
NSQD_ARGS="$NSQD_ARGS"
ETCD_CLIENT=$ETCD_CLIENT
LOOKUPD_TCP=$LOOKUPD_TCP
TCP_n1=$TCP_n1 HTTP_n1=$HTTP_n1 TCP_n2=$TCP_n2 HTTP_n2=$HTTP_n2 TCP_n3=$TCP_n3 HTTP_n3=$HTTP_n3
STATE
export NSQ_CLUSTER_BENCH_STATE="$STATE"
LOOKUPD_ADDRESS="127.0.0.1:$LOOKUPD_HTTP"

echo "== etcd 127.0.0.1:$ETCD_CLIENT, nsqlookupd 127.0.0.1:$LOOKUPD_TCP/$LOOKUPD_HTTP, nsqd n1..n3 tcp $TCP_n1 $TCP_n2 $TCP_n3 (data $DATA, logs $OUT)" >&2
etcd --name=bench --data-dir="$DATA/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster="bench=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state=new > "$OUT/etcd.log" 2>&1 < /dev/null &
echo $! > "$DATA/pids/etcd.pid"
wait_http etcd "http://127.0.0.1:$ETCD_CLIENT/health" "$!" "$OUT/etcd.log"

"$LOOKUPD" --tcp-address="127.0.0.1:$LOOKUPD_TCP" --http-address="$LOOKUPD_ADDRESS" --broadcast-address=127.0.0.1 \
  --etcd-endpoints="http://127.0.0.1:$ETCD_CLIENT" --cluster-name=bench > "$OUT/nsqlookupd.log" 2>&1 < /dev/null &
echo $! > "$DATA/pids/lookupd.pid"
wait_http nsqlookupd "http://$LOOKUPD_ADDRESS/ping" "$!" "$OUT/nsqlookupd.log"

for id in n1 n2 n3; do start_node "$id"; done
# Every node registered in etcd (lookupd's GET /cluster lists them), bounded.
for _ in $(seq 1 300); do
  nodes=$(curl -sf --max-time 1 "http://$LOOKUPD_ADDRESS/cluster" | grep -o '"node_id"' | wc -l || true)
  [[ "$nodes" -ge 3 ]] && break
  sleep 0.1
done
[[ "$nodes" -ge 3 ]] || { echo "run-cluster-benchmarks: only $nodes of 3 nodes registered within 30 s; see $OUT/nsqd-*.log" >&2; exit 1; }

# bench LABEL VERB [FLAGS...]: one nsq_bench run; its human lines to stderr, its JSON line kept. It runs in the background
# and is waited for, so a SIGTERM or SIGINT of this script alone stops it at once (the trap runs during a wait).
bench() {
  local label=$1 verb=$2
  shift 2
  local slug log
  slug=$(printf %s "$label" | tr -c "A-Za-z0-9_." "-")
  log="$OUT/$slug-r$round.log"
  echo "== $label (round $round, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$BENCH" "$verb" --label="$label" "$@" > "$log" 2>&1 < /dev/null &
  BENCH_PID=$!
  wait "$BENCH_PID" || echo "   (run failed, see $log)" >&2
  BENCH_PID=""
  grep '^\[' "$log" >&2 || true
  tail -n 1 "$log" >> "$RESULTS" || true
}

SINGLE="single-node fsync writer"
CLUSTER="cluster writer RF=$REPLICAS min_isr=$MIN_ISR"
LATENCY="cluster latency ${RATE}/s RF=$REPLICAS min_isr=$MIN_ISR"
common=(--size="$SIZE" --runfor="$RUNFOR" --progress=off)
cluster=(--lookupd-http-address="$LOOKUPD_ADDRESS" --partitions="$PARTITIONS" --replicas="$REPLICAS" --min-isr="$MIN_ISR")
widths=("$CONCURRENCY")
[[ "$WIDE" -gt 0 ]] && widths+=("$WIDE")
suffix() { [[ "$1" == "$CONCURRENCY" ]] && return 0; echo " x$1 connections"; }
for round in $(seq 1 "$RUNS"); do
  # The baseline: a standalone nsqd with the same load, started fresh (the cluster idles meanwhile).
  mkdir -p "$DATA/single"
  # shellcheck disable=SC2086
  "$NSQD" --tcp-address="127.0.0.1:$SINGLE_TCP" --http-address="127.0.0.1:$SINGLE_HTTP" --broadcast-address=127.0.0.1 \
    --data-path="$DATA/single" $NSQD_ARGS > "$OUT/nsqd-single-r$round.log" 2>&1 < /dev/null &
  echo $! > "$DATA/pids/single.pid"
  wait_http "single nsqd" "http://127.0.0.1:$SINGLE_HTTP/ping" "$!" "$OUT/nsqd-single-r$round.log"
  for w in "${widths[@]}"; do
    bench "$SINGLE$(suffix "$w")" writer --nsqd-tcp-address="127.0.0.1:$SINGLE_TCP" --broker-pid="$(cat "$DATA/pids/single.pid")" \
      --batch-size="$BATCH" --concurrency="$w" --topic="bench_single_r${round}_c$w" "${common[@]}"
  done
  stop_pid single
  rm -rf "$DATA/single"

  for w in "${widths[@]}"; do
    bench "$CLUSTER$(suffix "$w")" writer "${cluster[@]}" --batch-size="$BATCH" --concurrency="$w" --topic="bench_cluster_r${round}_c$w" "${common[@]}"
  done
  bench "$LATENCY" latency "${cluster[@]}" --rate="$RATE" --concurrency="$CONCURRENCY" "${common[@]}"
done

round=1
bench "cluster failover RF=$REPLICAS min_isr=$MIN_ISR" failover --lookupd-http-address="$LOOKUPD_ADDRESS" --replicas="$REPLICAS" \
  --min-isr="$MIN_ISR" --size="$SIZE" --kills="$KILLS" --restart-cmd="bash '$SELF' --start-node {node_id}"

{
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r), .NET $(dotnet --version 2>/dev/null || echo '?')"
  echo "Cluster: etcd + nsqlookupd + 3 nsqd on 127.0.0.1, topics with $PARTITIONS partition(s), RF=$REPLICAS, min_isr=$MIN_ISR; nsqd flags: ${NSQD_ARGS:-defaults}"
  echo "Runs: $RUNS x $RUNFOR per scenario, $SIZE B messages, MPUB $BATCH, latency at $RATE msg/s, $KILLS kills; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  ratio=()
  if [[ "$RUNS" -gt 0 ]]; then
    ratios="$CLUSTER vs $SINGLE"
    [[ "$WIDE" -gt 0 ]] && ratios+="; $CLUSTER$(suffix "$WIDE") vs $SINGLE$(suffix "$WIDE")"
    ratio=(--ratio="$ratios")
  fi
  "$BENCH" table "${ratio[@]}" "$RESULTS"
} | tee "$OUT/results.md"
echo
echo "Results in $OUT (results.md, results.jsonl, one log per run)"
