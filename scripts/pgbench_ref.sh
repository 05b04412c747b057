#!/usr/bin/env bash
# This box's PostgreSQL reference for REST throughput: pgbench TPC-B with
# 16 clients for 8 s on a scale-10 database of its own (as the postgres
# user, like the server's own cluster), vacuumed first. Prints pgbench's
# `tps = …` line. Used by `make bench` in the same run as the REST benchmark.
set -euo pipefail
db=kilat_pgbench_ref
as_postgres() {
  if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
as_postgres psql -qtAc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
as_postgres psql -qtAc "CREATE DATABASE $db" >/dev/null
trap 'as_postgres psql -qtAc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
as_postgres pgbench -q -i -s 10 "$db" >/dev/null 2>&1
as_postgres psql -qtAc "VACUUM ANALYZE" "$db" >/dev/null 2>&1
as_postgres pgbench -c 16 -j 2 -T "${PGBENCH_SECONDS:-8}" "$db" 2>/dev/null | grep -E '^(tps|latency average)'
