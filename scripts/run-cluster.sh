#!/usr/bin/env bash
# Builds everything and runs a local cluster on 127.0.0.1 (cluster mode, docs/OPERATIONS.md):
#   etcd        client 2379  peer 2380          (data in ./run-data/cluster/etcd)
#   nsqlookupd  tcp 4160  http 4161             (the controller; discovery for clients)
#   nsqd n1     tcp 4150  http 4151             (data in ./run-data/cluster/n1)
#   nsqd n2     tcp 4250  http 4251
#   nsqd n3     tcp 4350  http 4351
#   nsqadmin    http 4171                        (once admin/ ships an executable)
# It creates no topic: create one on lookupd (POST /topic/create?topic=T&partitions=P&replicas=R&min_isr=M) or
# just publish (the first PUB creates it with 3 replicas, min_isr 2). Ctrl-C (or SIGTERM) stops everything
# gracefully. Extra arguments are passed to every nsqd. Needs etcd-server (installed here when run as root).
set -euo pipefail
set -m # each member in its own process group: Ctrl-C reaches only this script, which stops them in order
cd "$(dirname "$0")/.."

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-cluster: installing etcd-server (Debian's etcd 3.4)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
    systemctl stop etcd 2>/dev/null || true # the package starts a system etcd on 2379; ours runs in the foreground
  else
    echo "run-cluster: etcd is not installed; run 'sudo apt-get install etcd-server' (or run this script as root)" >&2
    exit 1
  fi
fi

dotnet build NsqSharp.sln -c Release -nologo -v quiet
bin=artifacts/bin
data=run-data/cluster
mkdir -p "$data"
nodes=() lookupds=() etcds=()
# Stops the nodes first (they hand their leases back to etcd, so nothing waits for a TTL), then lookupd, then etcd.
stop_all() { for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
stop() {
  trap '' INT TERM # a second Ctrl-C must not end the script half-way and leave lookupd and etcd running
  trap - EXIT
  stop_all "${nodes[@]}"
  stop_all "${lookupds[@]}"
  stop_all "${etcds[@]}"
}
trap stop INT TERM EXIT

etcd --name=nsqsharp --data-dir="$data/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=nsqsharp=http://127.0.0.1:2380 >"$data/etcd.log" 2>&1 & etcds+=($!)
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:2379/health >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:2379/health >/dev/null || { echo "run-cluster: etcd did not start; see $data/etcd.log" >&2; exit 1; }

etcd_flags=(--etcd-endpoints=http://127.0.0.1:2379 --cluster-name=nsqsharp)
"$bin/nsqlookupd/release/nsqlookupd" --tcp-address=127.0.0.1:4160 --http-address=127.0.0.1:4161 \
  --broadcast-address=127.0.0.1 "${etcd_flags[@]}" & lookupds+=($!)
for n in 1 2 3; do
  port=$((4050 + n * 100))
  mkdir -p "$data/n$n"
  "$bin/nsqd/release/nsqd" --node-id="n$n" --tcp-address="127.0.0.1:$port" --http-address="127.0.0.1:$((port + 1))" \
    --broadcast-address=127.0.0.1 --data-path="$data/n$n" --lookupd-tcp-address=127.0.0.1:4160 "${etcd_flags[@]}" "$@" & nodes+=($!)
done
if [ -x "$bin/nsqadmin/release/nsqadmin" ]; then
  "$bin/nsqadmin/release/nsqadmin" --http-address=127.0.0.1:4171 --lookupd-http-address=127.0.0.1:4161 & lookupds+=($!)
fi

cat <<INFO
run-cluster: up (Ctrl-C stops everything)
  etcd        http://127.0.0.1:2379
  nsqlookupd  tcp 127.0.0.1:4160  http http://127.0.0.1:4161   (GET /cluster, POST /topic/create)
  nsqd n1     tcp 127.0.0.1:4150  http http://127.0.0.1:4151
  nsqd n2     tcp 127.0.0.1:4250  http http://127.0.0.1:4251
  nsqd n3     tcp 127.0.0.1:4350  http http://127.0.0.1:4351
INFO
[ -x "$bin/nsqadmin/release/nsqadmin" ] && echo "  nsqadmin    http://127.0.0.1:4171"
wait -n
