#!/usr/bin/env bash
# The operator console in a real browser (`make e2e`, run by .ci/run):
# installs Debian's chromium and Node when missing, playwright-core from
# npm, then runs one kilat node on its own database with a small simulated
# city and drives /console with tests/e2e/console.mjs. Pass a path as $1 to
# keep a screenshot (README's is made this way).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[e2e] %s\n' "$*"; }
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

bash scripts/deps.sh
command -v chromium >/dev/null 2>&1 || { log "installing chromium"; apt_install chromium; }
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { log "installing nodejs and npm"; apt_install nodejs npm; }
(cd tests/e2e && npm install --no-audit --no-fund --silent)

cargo build --quiet --bin kilat
cargo build --quiet -p kilat-tools --bin kilat-simulate

base=${KILAT_E2E_DATABASE_BASE:-postgres://kilat:kilat@127.0.0.1:5432}
db="kilat_e2e_$$"
url="$base/$db"
port=${KILAT_E2E_PORT:-18181}
mkdir -p target/e2e
psql "$base/kilat" -qtAc "CREATE DATABASE $db" >/dev/null

server=""; sim=""
cleanup() {
  [ -n "$sim" ] && kill "$sim" 2>/dev/null || true
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  psql "$base/kilat" -qtAc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

export KILAT_ENVIRONMENT=local
export KILAT__DATABASE__URL="$url"
export KILAT__SERVER__PORT="$port"
export KILAT__REDIS__KEY_PREFIX="kilat-e2e-$$:"
export KILAT__LOG__FORMAT=json KILAT__LOG__LEVEL=warn
export KILAT__DISPATCH__OFFER_TIMEOUT_MS=5000
export KILAT__PAYMENTS__SAGA_INTERVAL_MS=200
# a city's worth of sign-ups and logins from one address
export KILAT__RATE_LIMIT__AUTH_PER_MINUTE=10000 KILAT__RATE_LIMIT__API_PER_MINUTE=100000

target/debug/kilat migrate >/dev/null
target/debug/kilat admin create --email ops@kilat.example --password 'ops-console-e2e' --full-name "Ops" >/dev/null
target/debug/kilat serve >target/e2e/server.log 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readiness" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readiness" >/dev/null || { log "the server did not become ready"; tail -20 target/e2e/server.log; exit 1; }

log "a small city: 8 runners, 3 owners"
target/debug/kilat-simulate --url "http://127.0.0.1:$port" --runners 8 --owners 3 --duration 60 \
  --bookings-per-sec 0.3 --ping-hz 2 >target/e2e/simulate.log 2>&1 &
sim=$!

node tests/e2e/console.mjs "http://127.0.0.1:$port" "$url" ops@kilat.example 'ops-console-e2e' "${1:-target/e2e/console.png}"
