#!/usr/bin/env bash
# `make bench-scaleout` (also the last section of `make bench`): the same
# fan-out generator against three kilat nodes on one Redis, then on a local
# 3-master Redis Cluster (sharded pub/sub), alternately, twice each. Pairs
# are spread so every ping crosses Redis (runner on node i, watcher on
# node i+1), after 4 s of warm-up at the first rate. Each Redis node is sampled once a second (CPU, messages
# published), so each shard's load and headroom per step is shown.
#
# BENCH_SECONDS (per step, default 4), BENCH_PAIRS (default 150),
# BENCH_SCALEOUT_RATES (default 10k..150k pings/s).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-4}
pairs=${BENCH_PAIRS:-150}
rates=${BENCH_SCALEOUT_RATES:-10000,20000,40000,60000,80000,100000,125000,150000}
out=target/bench
mkdir -p "$out"
rm -f "$out"/scaleout-*.txt
ulimit -n "$(ulimit -Hn)"
cargo build --release -p kilat-tools -q
cargo build --release --bin kilat -q
export KILAT__REALTIME__WS_MAX_FRAMES_PER_SEC=1000000
export KILAT__REALTIME__WS_MAX_SOCKETS_PER_USER=1000000
export CLUSTER_NODES=3
nodes=http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083
shifted=http://127.0.0.1:8082,http://127.0.0.1:8083,http://127.0.0.1:8081

run() { # topology round redis-ports
  local topology=$1 round=$2 ports=$3 sampler
  bash scripts/cluster.sh down >/dev/null 2>&1 || true
  if [ "$topology" = cluster ]; then
    CLUSTER_REDIS=cluster bash scripts/cluster.sh up >/dev/null
  else
    CLUSTER_REDIS=single bash scripts/cluster.sh up >/dev/null
  fi
  python3 scripts/redis_sample.py "$ports" >"$out/scaleout-$topology-$round.samples" &
  sampler=$!
  echo "-- three kilat nodes, $topology Redis (round $round)"
  target/release/fanout --target kilat --a "$nodes" --b "$shifted" --pairs "$pairs" --rates "$rates" \
    --seconds "$secs" --warmup 4 --label "kilat, 3 nodes, $topology Redis" | tee "$out/scaleout-$topology-$round.txt"
  kill $sampler 2>/dev/null || true
  wait $sampler 2>/dev/null || true
}

echo "== scale-out: three kilat nodes on one Redis against a 3-master Redis Cluster (same generator)"
# a fresh cluster of three masters, no replicas (they would take CPU from
# everything else on this box): sampled are its masters
bash scripts/redis-cluster.sh down >/dev/null
bash scripts/redis-cluster.sh up >/dev/null
masters=$(redis-cli -p 7101 cluster nodes | awk '/master/ {split($2, a, "[:@]"); print a[2]}' | sort | paste -sd,)
for round in 1 2; do
  run single "$round" 6379
  run cluster "$round" "$masters"
done
bash scripts/cluster.sh down >/dev/null 2>&1 || true
python3 scripts/bench_scaleout_summary.py "$out"
