#!/usr/bin/env bash
# Fails when src/db/schema.rs differs from what diesel prints for a database
# migrated from migrations/. Installs diesel_cli (and libpq-dev) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v diesel >/dev/null 2>&1; then
  if ! dpkg -s libpq-dev >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends libpq-dev >/dev/null \
      || { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends libpq-dev >/dev/null; }
  fi
  echo "[schema] installing diesel_cli (once)"
  cargo install diesel_cli --version '^2.3' --no-default-features --features postgres --locked --quiet
fi

base=${KILAT_SCHEMA_DATABASE_URL:-postgres://kilat:kilat@127.0.0.1:5432}
db="kilat_schema_$$"
url="$base/$db"
cleanup() { psql "$base/kilat" -qtAc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# diesel.toml without `file =`, so running migrations does not rewrite schema.rs
config=$(mktemp --suffix=.toml)
grep -v '^file *=' diesel.toml > "$config"
generated=$(mktemp)
trap 'cleanup; rm -f "$config" "$generated"' EXIT

psql "$base/kilat" -qtAc "CREATE DATABASE $db" >/dev/null
diesel migration run --config-file "$config" --database-url "$url" --migration-dir migrations >/dev/null
diesel print-schema --config-file "$config" --database-url "$url" > "$generated"
if ! diff -u src/db/schema.rs "$generated"; then
  echo "[schema] src/db/schema.rs is stale: run 'diesel print-schema > src/db/schema.rs' against a migrated database" >&2
  exit 1
fi
echo "[schema] src/db/schema.rs matches the migrations"
