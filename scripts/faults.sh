#!/usr/bin/env bash
# Events under faults: the two-node cluster behind nginx, owners watching
# their trips over /ws while runners drive them (tools/src/bin/faults.rs), and
# meanwhile: a node killed (-9) and restarted, Redis restarted, PostgreSQL
# restarted, a node SIGTERMed (drained) and restarted. The example prints
# how many status events were expected, received and missing.
#
#   bash scripts/faults.sh            (FAULT_TRIPS=20 FAULT_SECS=70)
set -euo pipefail
cd "$(dirname "$0")/.."
trips=${FAULT_TRIPS:-20}
secs=${FAULT_SECS:-70}
dir="$PWD/target/cluster"
say() { echo "[faults $(date +%T)] $*"; }

bash scripts/cluster.sh up
cargo build --release -p kilat-tools --bin faults
PG_MAJOR=$(ls /etc/postgresql | sort -V | tail -n 1)

KILAT_ENVIRONMENT=local KILAT__LOG__LEVEL=error target/release/faults \
  --url http://127.0.0.1:8080 --trips "$trips" --duration "$secs" &
gen=$!

sleep 10
say "kill -9 node 1"
kill -9 "$(cat "$dir/node1.pid")"
sleep 2
bash scripts/cluster.sh node 1

sleep 8
say "restart Redis"
redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
sleep 1
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --logfile /tmp/kilat-redis.log
sleep 8

say "restart PostgreSQL"
if [ "$(id -u)" -eq 0 ]; then
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main restart -m fast
else
  sudo pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main restart -m fast
fi
sleep 8

say "SIGTERM node 2 (drain)"
kill -TERM "$(cat "$dir/node2.pid")"
for _ in $(seq 1 100); do kill -0 "$(cat "$dir/node2.pid")" 2>/dev/null || break; sleep 0.1; done
say "node 2 exited; starting it again"
bash scripts/cluster.sh node 2

wait "$gen"
