#!/usr/bin/env bash
# `make bench`: every benchmark in one run on this machine, printed as it
# goes (BENCHMARKS.md holds the method and the latest figures).
#
#  1. the physical bound: redis-benchmark, pipelined PUBLISH to one subscriber
#  2. fan-out, kilat: one node, and two nodes through Redis (make cluster)
#  3. fan-out, the Bun peer (bench/bun): one node in-process, two nodes via Redis
#  4. idle authenticated /ws sockets: resident memory per socket
#  5. dispatch with 10k online runners
#
# BENCH_SECONDS (per fan-out step, default 4), BENCH_PAIRS (default 100),
# BENCH_RATES, BENCH_IDLE (default 10000; the fd limit here is 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-4}
pairs=${BENCH_PAIRS:-100}
rates=${BENCH_RATES:-2000,5000,10000,20000,40000,60000,80000,100000}
idle=${BENCH_IDLE:-10000}
out=target/bench
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"

# the load generators (release)
cargo build --release -p kilat-tools -q

# kilat cluster with the per-socket frame limit and the per-user socket cap
# lifted for the generators (one generator user holds thousands of sockets)
export KILAT__REALTIME__WS_MAX_FRAMES_PER_SEC=1000000
export KILAT__REALTIME__WS_MAX_SOCKETS_PER_USER=1000000
bash scripts/cluster.sh up
# these machines' PostgreSQL runs with autovacuum off: start from vacuumed tables
psql "${KILAT__DATABASE__URL:-postgres://kilat:kilat@127.0.0.1:5432/kilat}" -qc "VACUUM ANALYZE" >/dev/null 2>&1 || true

echo
echo "== 1. Redis bound: pipelined PUBLISH (1 subscriber, 200-byte payload)"
redis-cli SUBSCRIBE bench:bound >/dev/null &
sub=$!
sleep 0.3
payload=$(head -c 200 /dev/zero | tr '\0' 'x')
redis-benchmark -q -n 1000000 -P 32 -c 4 PUBLISH bench:bound "$payload" | tr '\r' '\n' | grep -v '^$' | tail -1
kill $sub 2>/dev/null || true

echo
echo "== 2. fan-out, kilat"
target/release/fanout --target kilat --a http://127.0.0.1:8081 --b http://127.0.0.1:8081 \
  --pairs "$pairs" --rates "$rates" --seconds "$secs"
target/release/fanout --target kilat --a http://127.0.0.1:8081 --b http://127.0.0.1:8082 \
  --pairs "$pairs" --rates "$rates" --seconds "$secs"

echo
echo "== 3. fan-out, Bun peer"
(cd bench/bun && [ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund --silent)
bun=bench/bun/node_modules/.bin/bun
PORT=9080 $bun bench/bun/server.js >"$out/bun0.log" 2>&1 &
b0=$!
PORT=9081 REDIS_URL=redis://127.0.0.1:6379 $bun bench/bun/server.js >"$out/bun1.log" 2>&1 &
b1=$!
PORT=9082 REDIS_URL=redis://127.0.0.1:6379 $bun bench/bun/server.js >"$out/bun2.log" 2>&1 &
b2=$!
trap 'kill $b0 $b1 $b2 2>/dev/null || true' EXIT
for p in 9080 9081 9082; do
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$p/health" 2>/dev/null && break; sleep 0.1; done
done
target/release/fanout --target bun --a http://127.0.0.1:9080 --b http://127.0.0.1:9080 \
  --pairs "$pairs" --rates "$rates" --seconds "$secs"
target/release/fanout --target bun --a http://127.0.0.1:9081 --b http://127.0.0.1:9082 \
  --pairs "$pairs" --rates "$rates" --seconds "$secs"
kill $b0 $b1 $b2 2>/dev/null || true

echo
echo "== 4. idle sockets"
target/release/probe --a http://127.0.0.1:8081 --b http://127.0.0.1:8082 \
  --pid-b "$(cat target/cluster/node2.pid)" --pings 2000 --rate 1000 --idle "$idle"

echo
echo "== 5. dispatch, 10k online runners"
KILAT_ENVIRONMENT=local target/release/dispatch_bench --url http://127.0.0.1:8081 --runners 10000 \
  --bookings 200 --rate 10

echo
echo "== 6. REST: booking create, then accept (each accept followed by a decline), against pgbench"
# the dispatch benchmark just inserted and deleted 10k runners (autovacuum is off here)
psql "${KILAT__DATABASE__URL:-postgres://kilat:kilat@127.0.0.1:5432/kilat}" -qc "VACUUM ANALYZE" >/dev/null 2>&1 || true
target/release/rest_bench --url http://127.0.0.1:8080 --clients 16 --seconds 8 | tee "$out/rest.txt"
bash scripts/pgbench_ref.sh | tee "$out/pgbench.txt"
create=$(awk '$1 == "create" {sub("/s", "", $6); print $6}' "$out/rest.txt")
tps=$(awk '/^tps/ {print $3; exit}' "$out/pgbench.txt")
if [ -n "$create" ] && [ -n "$tps" ]; then
  awk -v c="$create" -v t="$tps" 'BEGIN {printf "  booking create %.0f/s through nginx = %.2f x pgbench TPC-B (%.0f tps, 16 clients) in this run; target >= 0.50\n", c, c / t, t}'
fi
