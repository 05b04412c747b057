#!/usr/bin/env bash
# `make bench`: every benchmark in one run on this machine, each figure
# beside its peer or bound, printed as it goes and summed up at the end
# (BENCHMARKS.md holds the method and the latest figures).
#
#  1. the physical bound: redis-benchmark, pipelined PUBLISH to one subscriber
#  2. fan-out, kilat and the Bun peer (bench/bun) alternately: one node,
#     then two nodes through Redis; the generator spread over processes
#  3. idle authenticated /ws sockets: resident memory per socket
#  4. dispatch with 10k online runners: five runs at 10 bookings/s, one at 50/s
#  5. REST: booking create and accept, against pgbench TPC-B run before and
#     after; through nginx, on one node, and on one node with dispatch off;
#     and what one create costs PostgreSQL (statements, transactions) and
#     the box (WAL, CPU: scripts/rest_cost.sh) beside one TPC-B transaction
#  6. scale-out: three nodes on one Redis against a 3-master Redis Cluster
#     (scripts/bench_scaleout.sh, also `make bench-scaleout`)
#
# BENCH_SECONDS (per fan-out step, default 4), BENCH_PAIRS (default 100),
# BENCH_RATES, BENCH_PROCS (generator processes, default 1: on two cores more of them starve the servers), BENCH_IDLE
# (default 10000) and BENCH_IDLE_MAX (default 19000; the fd limit here is 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-4}
pairs=${BENCH_PAIRS:-100}
rates=${BENCH_RATES:-10000,20000,40000,60000,80000,100000,125000,150000,200000}
procs=${BENCH_PROCS:-1}
idle=${BENCH_IDLE:-10000}
idle_max=${BENCH_IDLE_MAX:-19000}
db=${KILAT__DATABASE__URL:-postgres://kilat:kilat@127.0.0.1:5432/kilat}
out=target/bench
mkdir -p "$out"
rm -f "$out"/*.txt
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
vacuum() { psql "$db" -qc "VACUUM ANALYZE" >/dev/null 2>&1 || true; }
# Load generators leave bookings waiting for a runner (rest_bench's accept
# phase declines every booking it takes); the dispatchers would retry each
# every 30 s for ever, and offer them to the dispatch benchmark's runners.
# Generator accounts' waiting bookings are closed before each section.
quiet() {
  psql "$db" -qc "WITH gone AS (UPDATE bookings b SET status = 'cancelled', updated_at = now() FROM users u
      WHERE u.id = b.owner_id AND b.status = 'requested'
        AND u.email ~ '^(rest|stmt|fanout|probe|bench|sim)-' RETURNING b.id)
    DELETE FROM booking_dispatch d USING gone WHERE d.booking_id = gone.id" >/dev/null
  # a dispatch benchmark that died before its cleanup leaves 10k runners in
  # the spatial index, which every later search would walk past
  psql "$db" -qc "DELETE FROM bookings WHERE owner_id IN (SELECT id FROM users WHERE email LIKE 'bench-%')
      OR runner_id IN (SELECT id FROM users WHERE email LIKE 'bench-%')" >/dev/null
  psql "$db" -qc "DELETE FROM users WHERE email LIKE 'bench-%'" >/dev/null
  vacuum
}
quiet

echo
echo "== 1. Redis bound: pipelined PUBLISH (1 subscriber, 200-byte payload)"
redis-cli SUBSCRIBE bench:bound >/dev/null &
sub=$!
sleep 0.3
payload=$(head -c 200 /dev/zero | tr '\0' 'x')
redis-benchmark -q -n 1000000 -P 32 -c 4 PUBLISH bench:bound "$payload" | tr '\r' '\n' | grep -v '^$' | tail -1 |
  tee "$out/redis.txt"
kill $sub 2>/dev/null || true

echo
echo "== 2. fan-out, kilat and Bun alternately ($procs generator processes)"
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
fanout() { # target a b file
  target/release/fanout --target "$1" --a "$2" --b "$3" --pairs "$pairs" --rates "$rates" --seconds "$secs" \
    --procs "$procs" | tee "$out/$4"
}
for round in 1 2; do
  fanout kilat http://127.0.0.1:8081 http://127.0.0.1:8081 "fanout-one-kilat-$round.txt"
  fanout bun http://127.0.0.1:9080 http://127.0.0.1:9080 "fanout-one-bun-$round.txt"
done
for round in 1 2; do
  fanout kilat http://127.0.0.1:8081 http://127.0.0.1:8082 "fanout-two-kilat-$round.txt"
  fanout bun http://127.0.0.1:9081 http://127.0.0.1:9082 "fanout-two-bun-$round.txt"
done
kill $b0 $b1 $b2 2>/dev/null || true

echo
echo "== 3. idle sockets (each count on a node started for it: freed memory stays with the allocator)"
spare_node() { # port log: starts a node holding only sockets, prints its pid
  KILAT_ENVIRONMENT=local KILAT__SERVER__PORT=$1 KILAT__DATABASE__POOL_MAX_SIZE=3 KILAT__DISPATCH__ENABLED=false \
    KILAT__LOG__LEVEL=warn target/release/kilat serve --no-migrate >"$2" 2>&1 &
  echo $!
}
wait_up() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null && return; sleep 0.2; done; }
for n in "$idle" "$idle_max"; do
  pid=$(spare_node 8090 "$out/idle-node-$n.log")
  wait_up 8090
  target/release/probe --a http://127.0.0.1:8081 --b http://127.0.0.1:8090 --pid-b "$pid" \
    --pings 100 --rate 100 --idle "$n" | tee "$out/idle-$n.txt"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
done
echo "-- ${spread_total:=100200} sockets over six more nodes (one probe process each: the fd limit is per process)"
spread_pids=()
for i in 1 2 3 4 5 6; do
  spread_pids+=("$(spare_node $((8090 + i)) "$out/spread-node$i.log")")
done
for i in 1 2 3 4 5 6; do wait_up $((8090 + i)); done
probes=()
for i in 1 2 3 4 5 6; do
  target/release/probe --a http://127.0.0.1:8081 --b "http://127.0.0.1:$((8090 + i))" --pid-b "${spread_pids[$((i - 1))]}" \
    --pings 100 --rate 100 --idle $((spread_total / 6)) >"$out/spread-$i.txt" 2>&1 &
  probes+=($!)
done
wait "${probes[@]}" || true
kill "${spread_pids[@]}" 2>/dev/null || true
cat "$out"/spread-*.txt | grep -E "idle|RSS" | tee "$out/idle-spread.txt"

echo
echo "== 4. dispatch, 10k online runners"
quiet
for run in 1 2 3 4 5; do
  KILAT_ENVIRONMENT=local target/release/dispatch_bench --url http://127.0.0.1:8081 --runners 10000 \
    --bookings 200 --rate 10 | tee "$out/dispatch-10-$run.txt"
done
KILAT_ENVIRONMENT=local target/release/dispatch_bench --url http://127.0.0.1:8081 --runners 10000 \
  --bookings 300 --rate 50 | tee "$out/dispatch-50.txt"

echo
echo "== 5. REST: booking create, then accept (each accept followed by a decline), against pgbench TPC-B"
# the dispatch benchmark just inserted and deleted 10k runners (autovacuum is off here)
quiet
bash scripts/pgbench_ref.sh | tee "$out/pgbench-1.txt"
vacuum
echo "-- two nodes behind nginx, dispatch on"
target/release/rest_bench --url http://127.0.0.1:8080 --clients 16 --seconds 8 | tee "$out/rest-nginx.txt"
echo "-- one node, dispatch on"
quiet
target/release/rest_bench --url http://127.0.0.1:8081 --clients 16 --seconds 8 | tee "$out/rest-one.txt"
echo "-- what one create costs PostgreSQL (one node)"
quiet
bash scripts/statements.sh http://127.0.0.1:8081 200 | tee "$out/statements.txt"
echo "-- what one create costs the box (one node, dispatch on)"
quiet
REST_COST_KILAT_ONLY=1 bash scripts/rest_cost.sh http://127.0.0.1:8081 | tee "$out/rest-cost-dispatch.txt"
echo "-- one node alone, dispatch off"
bash scripts/cluster.sh down >/dev/null
quiet
KILAT_ENVIRONMENT=local KILAT__SERVER__PORT=8083 KILAT__DISPATCH__ENABLED=false KILAT__LOG__LEVEL=warn \
  KILAT__RATE_LIMIT__AUTH_PER_MINUTE=1000000 KILAT__RATE_LIMIT__API_PER_MINUTE=1000000 \
  target/release/kilat serve --no-migrate >"$out/node-nodispatch.log" 2>&1 &
solo=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:8083/health 2>/dev/null && break; sleep 0.2; done
target/release/rest_bench --url http://127.0.0.1:8083 --clients 16 --seconds 8 | tee "$out/rest-nodispatch.txt"
echo "-- what one create costs the box, beside one TPC-B transaction (lone node, dispatch off)"
quiet
bash scripts/rest_cost.sh http://127.0.0.1:8083 | tee "$out/rest-cost.txt"
kill $solo
wait $solo 2>/dev/null || true
quiet
bash scripts/pgbench_ref.sh | tee "$out/pgbench-2.txt"

echo
echo "== 6. scale-out"
quiet
bash scripts/bench_scaleout.sh

echo
echo "== summary: each figure beside its peer or bound, from this run"
python3 scripts/bench_summary.py "$out"
python3 scripts/bench_scaleout_summary.py "$out"
