#!/usr/bin/env bash
# What one booking create costs the box, beside what one pgbench TPC-B
# transaction costs, measured the same way in the same run: WAL bytes,
# PostgreSQL CPU (every postgres process) and client-side CPU (the kilat
# node's threads, argon2's hashing threads left out: they only hash the
# benchmark's sign-ups; pgbench's own process), each divided by the
# number of creates or transactions. Also pgbench over TCP loopback, the
# transport kilat uses, beside its default Unix socket; the rows each
# writes and the transactions each runs (pg_stat_database); and what a
# statement costs PostgreSQL when it does nothing (pgbench, 7 x SELECT 1,
# prepared, over TCP), the floor under any statement count.
#
# Needs a running node (URL, default a lone node on :8083, as `make bench`
# starts it) and target/release/rest_bench. REST_COST_KILAT_ONLY=1 runs
# the creates alone (make bench does so on a dispatching node too).
#
#   bash scripts/rest_cost.sh [URL]
set -euo pipefail
url=${1:-http://127.0.0.1:8083}
port=${url##*:}
seconds=${REST_COST_SECONDS:-8}
db=kilat_pgbench_cost
as_postgres() {
  if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
q() { as_postgres psql -qtAc "$1" "${2:-postgres}"; }
tick=$(getconf CLK_TCK)
# CPU ticks of every postgres process
# (backends that exited, like pgbench's, are counted in the postmaster's
# children's time)
pg_ticks() {
  local main
  main=$(head -1 "$(as_postgres psql -qtAc "SHOW data_directory")/postmaster.pid")
  {
    for p in $(pgrep -x postgres); do awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null; done
    awk '{print $16+$17}' "/proc/$main/stat"
  } | awk '{s+=$1} END {print s+0}'
}
# CPU ticks of a process's threads, hashing threads left out
proc_ticks() {
  for t in /proc/"$1"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in kilat-hash*) continue ;; esac
    awk '{print $14+$15}' "$t/stat" 2>/dev/null
  done | awk '{s+=$1} END {print s+0}'
}
node=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$node" ] || { echo "no node listening on :$port" >&2; exit 1; }

q "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
q "CREATE DATABASE $db" >/dev/null
trap 'q "DROP DATABASE IF EXISTS '$db'" >/dev/null 2>&1 || true' EXIT
as_postgres pgbench -q -i -s 10 "$db" >/dev/null 2>&1
q "VACUUM ANALYZE" "$db" >/dev/null 2>&1

# rows inserted, updated or deleted, and transactions (read-only ones too), in a
# database so far (the statistics reach pg_stat_database within a second)
written() { sleep 1.2; q "SELECT tup_inserted + tup_updated + tup_deleted, xact_commit FROM pg_stat_database WHERE datname = '$1'"; }
per() { # before after n: "rows and transactions per unit"
  awk -F'|' -v a="$1" -v b="$2" -v n="$3" 'BEGIN { split(a, x, "|"); split(b, y, "|");
    printf "rows written %5.1f   transactions %4.1f", (y[1] - x[1]) / n, (y[2] - x[2]) / n }'
}

# pgbench: Unix socket, then TCP loopback; WAL and CPU per transaction
bench() {
  local name=$1 wal0 pg0 w0 out pg1 wal1 w1 n tps walb
  shift
  wal0=$(q "SELECT pg_current_wal_lsn()")
  w0=$(written "$db")
  pg0=$(pg_ticks)
  out=$(as_postgres pgbench "$@" -c 16 -j 2 -T "$seconds" "$db" 2>/dev/null)
  pg1=$(pg_ticks)
  wal1=$(q "SELECT pg_current_wal_lsn()")
  w1=$(written "$db")
  n=$(echo "$out" | awk -F': ' '/number of transactions actually processed/ {split($2, a, "/"); print a[1]}')
  tps=$(echo "$out" | awk '/^tps/ {printf "%.0f", $3}')
  walb=$(q "SELECT pg_wal_lsn_diff('$wal1', '$wal0')")
  awk -v name="$name" -v n="$n" -v tps="$tps" -v w="$walb" -v pg=$((pg1 - pg0)) -v t="$tick" -v r="$(per "$w0" "$w1" "$n")" 'BEGIN {
    printf "%-30s %6s/s   WAL %5.0f B   PostgreSQL CPU %5.2f ms   %s\n", name, tps, w / n, pg / t * 1000 / n, r }'
}
if [ "${REST_COST_KILAT_ONLY:-0}" != 1 ]; then
bench "pgbench TPC-B, Unix socket"
bench "pgbench TPC-B, TCP 127.0.0.1" -h 127.0.0.1

# the floor: seven statements that do nothing, prepared, over TCP
noop=$(mktemp)
for _ in 1 2 3 4 5 6 7; do echo "SELECT 1;"; done >"$noop"
chmod a+r "$noop"
pg0=$(pg_ticks)
out=$(as_postgres pgbench -h 127.0.0.1 -n -M prepared -f "$noop" -c 16 -j 2 -T "$seconds" "$db" 2>/dev/null)
pg1=$(pg_ticks)
rm -f "$noop"
n=$(echo "$out" | awk -F': ' '/number of transactions actually processed/ {split($2, a, "/"); print a[1]}')
awk -v n="$n" -v pg=$((pg1 - pg0)) -v t="$tick" -v s="$seconds" 'BEGIN {
  printf "%-30s %6.0f/s   PostgreSQL CPU %5.3f ms a statement\n", "pgbench 7 x SELECT 1, TCP", n * 7 / s, pg / t * 1000 / n / 7 }'
fi

# kilat: creates only, after the benchmark's sign-ups
creates() { psql "${KILAT__DATABASE__URL:-postgres://kilat:kilat@127.0.0.1:5432/kilat}" -qtAc "SELECT count(*) FROM bookings"; }
c0=$(creates)
wal0=$(q "SELECT pg_current_wal_lsn()")
w0=$(written kilat)
pg0=$(pg_ticks)
k0=$(proc_ticks "$node")
line=$(target/release/rest_bench --url "$url" --clients 16 --seconds "$seconds" --create-only | grep create)
k1=$(proc_ticks "$node")
pg1=$(pg_ticks)
wal1=$(q "SELECT pg_current_wal_lsn()")
c1=$(creates)
w1=$(written kilat)
walb=$(q "SELECT pg_wal_lsn_diff('$wal1', '$wal0')")
rate=$(echo "$line" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /\/s$/) { sub(/\/s$/, "", $i); print $i; exit }}')
awk -v n=$((c1 - c0)) -v rate="$rate" -v w="$walb" -v pg=$((pg1 - pg0)) -v k=$((k1 - k0)) -v t="$tick" -v r="$(per "$w0" "$w1" $((c1 - c0)))" 'BEGIN {
  printf "%-30s %6s/s   WAL %5.0f B   PostgreSQL CPU %5.2f ms   kilat CPU %5.2f ms   %s\n", "kilat booking create", rate, w / n, pg / t * 1000 / n, k / t * 1000 / n, r }'
