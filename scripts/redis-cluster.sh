#!/usr/bin/env bash
# A local Redis Cluster from the OS package, on loopback (#17's groundwork):
# three masters on :7101-:7103, with --replicas one replica each on
# :7104-:7106. Data and logs in target/redis-cluster/. Idempotent.
#
#   bash scripts/redis-cluster.sh up [--replicas]   # start (or reuse) and create the cluster
#   bash scripts/redis-cluster.sh check             # cluster_state, and a sharded message crossing nodes
#   bash scripts/redis-cluster.sh down              # stop every node, remove the data
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/redis-cluster
say() { echo "[redis-cluster] $*"; }

ports() { if [ "${1:-}" = "--replicas" ]; then echo 7101 7102 7103 7104 7105 7106; else echo 7101 7102 7103; fi; }

up() {
  command -v redis-server >/dev/null || bash scripts/deps.sh
  local replicas=0 list
  [ "${1:-}" = "--replicas" ] && replicas=1
  list=$(ports "${1:-}")
  mkdir -p "$dir"
  for p in $list; do
    if redis-cli -p "$p" ping >/dev/null 2>&1; then continue; fi
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$PWD/$dir/$p/nodes.conf" --cluster-node-timeout 2000 \
      --dir "$PWD/$dir/$p" --appendonly no --save "" --daemonize yes \
      --logfile "$PWD/$dir/$p/redis.log" --pidfile "$PWD/$dir/$p/redis.pid"
  done
  for p in $list; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if redis-cli -p 7101 cluster info | grep -q 'cluster_state:ok'; then
    say "already a cluster: $(redis-cli -p 7101 cluster nodes | grep -c master) masters"
    return
  fi
  local addrs=()
  for p in $list; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log"
  for _ in $(seq 1 100); do
    redis-cli -p 7101 cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.1
  done
  say "up: $(redis-cli -p 7101 cluster nodes | grep -c master) masters, $replicas replica(s) each, seeds redis://127.0.0.1:7101"
}

check() {
  redis-cli -p 7101 cluster info | grep -E 'cluster_state|cluster_known_nodes|cluster_size'
  # a sharded message: subscribe on the node that owns the channel's slot,
  # publish through another node with -c (redirected by MOVED)
  local channel="kilat:check:{booking-1}" owner port out
  owner=$(redis-cli -p 7101 cluster keyslot "$channel")
  port=$(redis-cli -p 7101 cluster nodes | awk -v slot="$owner" '/master/ {
    for (i = 9; i <= NF; i++) { split($i, r, "-"); if (slot >= r[1] && slot <= (r[2] == "" ? r[1] : r[2])) {
      split($2, a, "[:@]"); print a[2]; exit } } }')
  [ -n "$port" ] || port=7101
  out=$(mktemp)
  timeout 3 redis-cli -p "$port" SSUBSCRIBE "$channel" >"$out" 2>&1 &
  local sub=$!
  sleep 0.3
  for p in 7101 7102 7103; do [ "$p" != "$port" ] && break; done
  redis-cli -c -p "$p" SPUBLISH "$channel" hello >/dev/null
  wait $sub 2>/dev/null || true
  if grep -q hello "$out"; then
    say "sharded pub/sub: slot $owner on :$port, published through :$p, received"
  else
    say "sharded pub/sub: nothing received"; cat "$out"; rm -f "$out"; exit 1
  fi
  rm -f "$out"
}

down() {
  for p in 7101 7102 7103 7104 7105 7106; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
  say "down"
}

case "${1:-up}" in
  up) up "${2:-}" ;;
  check) check ;;
  down) down ;;
  *) echo "usage: $0 up [--replicas] | check | down" >&2; exit 2 ;;
esac
