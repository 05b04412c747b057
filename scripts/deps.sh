#!/usr/bin/env bash
# Makes the services Kilat needs, idempotently, on Debian/Ubuntu:
# PostgreSQL + PostGIS and Redis on loopback, the `kilat` role and database,
# PostGIS in template1 (so every per-test database has it), and the nginx
# binary (the tests start their own load balancer with it; nothing is served
# by the system nginx).
#
# Works on a bare machine (installs from the OS packages) and on one where
# PostgreSQL and Redis already run (changes nothing that is in place).
# Needs root or sudo; no systemd. Settings via env:
#   KILAT_DB_USER (kilat)  KILAT_DB_PASSWORD (kilat)  KILAT_DB_NAME (kilat)
#   PGPORT (5432)  REDIS_PORT (6379)
set -euo pipefail

DB_USER=${KILAT_DB_USER:-kilat}
DB_PASSWORD=${KILAT_DB_PASSWORD:-kilat}
DB_NAME=${KILAT_DB_NAME:-kilat}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

log() { printf '[deps] %s\n' "$*"; }
die() { printf '[deps] error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "run as root or install sudo"
fi

as_postgres() {
  if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    sudo -u postgres "$@"
  fi
}

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing: $*"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL --------------------------------------------------------------
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  # Only when no PostgreSQL is installed at all: never reinstall the server
  # under a running cluster.
  apt_install postgresql postgresql-contrib
fi
PG_MAJOR=$(ls /etc/postgresql | sort -V | tail -n 1)
[ -n "$PG_MAJOR" ] || die "no PostgreSQL cluster configuration under /etc/postgresql"
log "PostgreSQL major version $PG_MAJOR"

if [ ! -f "/usr/share/postgresql/$PG_MAJOR/extension/postgis.control" ]; then
  apt_install "postgresql-$PG_MAJOR-postgis-3"
fi

if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$PG_MAJOR main"; then
  log "creating cluster $PG_MAJOR/main"
  "${SUDO[@]}" pg_createcluster "$PG_MAJOR" main --port "$PGPORT" >/dev/null
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PGPORT"; }
if ! pg_ready; then
  log "starting PostgreSQL $PG_MAJOR"
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
  for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
  pg_ready || die "PostgreSQL did not start (see /var/log/postgresql/postgresql-$PG_MAJOR-main.log)"
fi

# If package installs moved the server binaries under a running cluster,
# restart it so server and libraries match.
running=$(as_postgres psql -p "$PGPORT" -tAc "SHOW server_version" 2>/dev/null | awk '{print $1}' || true)
installed=$("/usr/lib/postgresql/$PG_MAJOR/bin/postgres" --version 2>/dev/null | awk '{print $3}' || true)
if [ -n "$running" ] && [ -n "$installed" ] && [ "$running" != "$installed" ]; then
  log "server $running runs but $installed is installed: restarting the cluster"
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main restart
  for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
  pg_ready || die "PostgreSQL did not come back after restart"
fi

psql_admin() { PGOPTIONS="-c client_min_messages=warning" as_postgres psql -p "$PGPORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != "1" ]; then
  log "creating role $DB_USER"
  psql_admin -c "CREATE ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
else
  psql_admin -c "ALTER ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
  log "creating database $DB_NAME"
  psql_admin -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$DB_USER\""
fi
# PostGIS needs a superuser: install it where the app and its tests need it.
psql_admin -d template1 -c "CREATE EXTENSION IF NOT EXISTS postgis"
psql_admin -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS postgis"

# --- Redis -------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server redis-tools
fi
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
if ! redis_ready; then
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --logfile /tmp/kilat-redis.log
  for _ in $(seq 1 40); do redis_ready && break; sleep 0.25; done
  redis_ready || die "Redis did not start (see /tmp/kilat-redis.log)"
fi

# --- nginx (the load balancer the forwarded-address tests run behind) --------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx-light
fi

log "ready: postgres://$DB_USER:***@127.0.0.1:$PGPORT/$DB_NAME (PostGIS), redis://127.0.0.1:$REDIS_PORT"
