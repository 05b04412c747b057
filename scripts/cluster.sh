#!/usr/bin/env bash
# A local cluster without Docker: two `kilat` nodes (release build) on
# 127.0.0.1:8081 and :8082 behind nginx on :8080 (round robin, WebSocket
# upgrade, no sticky sessions), on the PostgreSQL/PostGIS and Redis that
# scripts/deps.sh starts. deploy/nginx.conf (compose) mirrors it.
#
#   scripts/cluster.sh up | down | status | node N   (node: start one node again)
#
# CLUSTER_NODES=3 runs three nodes (:8081-:8083); CLUSTER_REDIS=cluster puts
# them on the local Redis Cluster of scripts/redis-cluster.sh (three masters
# on :7101-:7103; REDIS_CLUSTER_FLAGS=--replicas adds a replica each), so
# channels travel by sharded pub/sub. `make cluster-sharded` does both.
#
# The nodes run in the local environment (simulated payments) with rate
# limits raised for load generators (CLUSTER_RATE_LIMIT, default 1000000
# per minute); logs and pids in target/cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/target/cluster"
lb_port=${CLUSTER_PORT:-8080}
nodes=${CLUSTER_NODES:-2}
ports=()
for i in $(seq 1 "$nodes"); do ports+=($((8080 + i))); done
redis_env=()
if [ "${CLUSTER_REDIS:-single}" = cluster ]; then
  redis_env=(KILAT__REDIS__URL=redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103)
fi
limit=${CLUSTER_RATE_LIMIT:-1000000}
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

say() { echo "[cluster] $*"; }

wait_http() { # url seconds
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

stop_nodes() {
  local pids=()
  for i in 1 2 3 4 5 6 7 8; do
    if [ -f "$dir/node$i.pid" ]; then
      pids+=("$(cat "$dir/node$i.pid")")
      kill "$(cat "$dir/node$i.pid")" 2>/dev/null || true
      rm -f "$dir/node$i.pid"
    fi
  done
  # SIGTERM drains (readiness 503, then sockets told to leave): wait for it.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  if [ -f "$dir/nginx.pid" ]; then
    nginx -p "$dir" -c "$dir/nginx.conf" -s quit 2>/dev/null || kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  fi
}

start_node() { # index: (re)starts one node (node 1 migrates)
  local i=$1 port=${ports[$(($1 - 1))]} migrate
  migrate=$([ "$i" -eq 1 ] && echo "" || echo "--no-migrate")
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  env "${redis_env[@]}" KILAT_ENVIRONMENT=local KILAT__SERVER__PORT=$port KILAT__SERVER__TRUST_FORWARDED_FOR=true \
    KILAT__RATE_LIMIT__AUTH_PER_MINUTE=$limit KILAT__RATE_LIMIT__API_PER_MINUTE=$limit \
    KILAT__LOG__FORMAT=json KILAT__LOG__LEVEL=${CLUSTER_LOG_LEVEL:-warn} \
    nohup target/release/kilat serve $migrate >>"$dir/node$i.log" 2>&1 &
  echo $! >"$dir/node$i.pid"
  wait_http "http://127.0.0.1:$port/health" 60 || { say "node $i did not start:"; tail -5 "$dir/node$i.log"; exit 1; }
  say "node $i on :$port (pid $(cat "$dir/node$i.pid"))"
}

case "${1:-up}" in
  up)
    bash scripts/deps.sh
    if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
      say "installing nginx"
      "${SUDO[@]}" apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 \
        || { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
    fi
    export PATH="$PATH:/usr/sbin"
    if [ "${CLUSTER_REDIS:-single}" = cluster ]; then
      bash scripts/redis-cluster.sh up ${REDIS_CLUSTER_FLAGS:-}
    fi
    say "building the release binary"
    cargo build --release --bin kilat
    mkdir -p "$dir"
    stop_nodes
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    for i in $(seq 1 "$nodes"); do
      start_node "$i"
    done
    upstreams=""
    for port in "${ports[@]}"; do
      upstreams+="        server 127.0.0.1:$port max_fails=2 fail_timeout=5s;"$'\n'
    done
    cat >"$dir/nginx.conf" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 60000; }
http {
    access_log off;
    client_body_temp_path $dir/tmp-body;
    proxy_temp_path $dir/tmp-proxy;
    fastcgi_temp_path $dir/tmp-fastcgi;
    uwsgi_temp_path $dir/tmp-uwsgi;
    scgi_temp_path $dir/tmp-scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    upstream kilat {
$upstreams        keepalive 64;
    }
    server {
        listen 127.0.0.1:$lb_port;
        client_max_body_size 1m;
        location / {
            proxy_pass http://kilat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            # one trusted hop: the address that connected to nginx, nothing the client sent
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header Forwarded "";
            proxy_read_timeout 3600s;
        }
    }
}
NGINX
    nginx -p "$dir" -c "$dir/nginx.conf"
    wait_http "http://127.0.0.1:$lb_port/health" 10 || { say "nginx did not start:"; cat "$dir/nginx-error.log"; exit 1; }
    say "load balancer on http://127.0.0.1:$lb_port (round robin over ${ports[*]}; Redis: ${CLUSTER_REDIS:-single})"
    say "stop with: make cluster-down"
    ;;
  node) # scripts/cluster.sh node N: start that node again (after a kill)
    mkdir -p "$dir"
    start_node "${2:?node number}"
    ;;
  down)
    export PATH="$PATH:/usr/sbin"
    stop_nodes
    say "stopped"
    ;;
  status)
    for i in $(seq 1 "$nodes"); do
      port=${ports[$((i - 1))]}
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; then say "node $i :$port up"; else say "node $i :$port down"; fi
    done
    if curl -fsS -o /dev/null "http://127.0.0.1:$lb_port/health" 2>/dev/null; then say "lb :$lb_port up"; else say "lb :$lb_port down"; fi
    ;;
  *)
    echo "usage: scripts/cluster.sh up|down|status|node N" >&2
    exit 2
    ;;
esac
