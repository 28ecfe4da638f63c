#!/usr/bin/env bash
# Builds everything and runs a local single-node broker on 127.0.0.1:
#   nsqlookupd  tcp 4160  http 4161
#   nsqd        tcp 4150  http 4151  (data in ./run-data/nsqd, registered with the lookupd)
#   nsqadmin    http 4171 (once admin/ ships an executable)
# Ctrl-C (or SIGTERM) stops them all gracefully. Extra arguments are passed to nsqd.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build NsqSharp.sln -c Release -nologo -v quiet
bin=artifacts/bin
mkdir -p run-data/nsqd
pids=()
stop() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; }
trap stop INT TERM EXIT
"$bin/nsqlookupd/release/nsqlookupd" --tcp-address=127.0.0.1:4160 --http-address=127.0.0.1:4161 \
  --broadcast-address=127.0.0.1 & pids+=($!)
"$bin/nsqd/release/nsqd" --tcp-address=127.0.0.1:4150 --http-address=127.0.0.1:4151 \
  --broadcast-address=127.0.0.1 --data-path=run-data/nsqd --lookupd-tcp-address=127.0.0.1:4160 "$@" & pids+=($!)
if [ -x "$bin/nsqadmin/release/nsqadmin" ]; then
  "$bin/nsqadmin/release/nsqadmin" --http-address=127.0.0.1:4171 --lookupd-http-address=127.0.0.1:4161 & pids+=($!)
fi
wait -n
