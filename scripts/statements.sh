#!/usr/bin/env bash
# What one booking create costs PostgreSQL: statements and transactions per
# create, counted from the server's statement log (log_statement = all) over
# N sequential creates through $URL (dispatch on, nobody near the pickup, so
# each create is followed by a full search pass), less an idle window of the
# same length (the nodes' timers). Prints the totals and a breakdown by
# statement kind. Used by `make bench`; needs a running node (make cluster).
#
#   bash scripts/statements.sh [URL] [N]
set -euo pipefail
url=${1:-http://127.0.0.1:8081}
n=${2:-100}
log=$(ls -t /var/log/postgresql/postgresql-*-main.log | head -1)
as_postgres() {
  if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
logging() {
  as_postgres psql -qtAc "ALTER SYSTEM SET log_statement = '$1'" >/dev/null
  as_postgres psql -qtAc "SELECT pg_reload_conf()" >/dev/null
}
trap 'logging none' EXIT

tag=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
token=$(curl -fsS -H 'content-type: application/json' "$url/api/v1/auth/register" \
  -d "{\"email\":\"stmt-$tag@example.my\",\"password\":\"stmt-password\",\"full_name\":\"Stmt\",\"role\":\"owner\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])')
day() { date -u -d "$1 days" +%Y-%m-%dT%H:%M:%SZ; }
body=$(cat <<EOF
{"pet_spec":{"pet_type":"dog","breed":"Beagle","name":"Count","weight_kg":12.0,"age_months":24,
 "vaccinations":[{"vaccine_name":"Rabies","date_given":"$(day -30)","expires_at":"$(day 300)"}]},
 "pickup_address":{"line1":"x","city":"KL","state":"WP","country":"MY","latitude":3.1579,"longitude":101.7116},
 "dropoff_address":{"line1":"y","city":"KL","state":"WP","country":"MY","latitude":3.1178,"longitude":101.6776}}
EOF
)

# counts statements logged between two byte offsets of the log
count() {
  python3 -c '
import re, sys, collections
kinds = collections.Counter()
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]))
    text = f.read(int(sys.argv[3]) - int(sys.argv[2])).decode("utf-8", "replace")
for line in text.splitlines():
    m = re.search(r"LOG:  (?:statement|execute [^:]*): (.*)", line)
    if not m:
        continue
    sql = m.group(1).strip()
    word = sql.split()[0].upper() if sql else "?"
    if word in ("SELECT", "WITH"):
        if "outbox_append" in sql: word = "SELECT outbox_append"
        elif "pg_advisory" in sql: word = "SELECT advisory lock"
        elif "ST_Distance" in sql: word = "SELECT candidates (KNN)"
        elif "FOR UPDATE" in sql.upper(): word = "SELECT ... FOR UPDATE"
    elif word in ("INSERT", "UPDATE", "DELETE"):
        t = re.search(r"(?:INTO|UPDATE|FROM)\s+\"?(\w+)", sql, re.I)
        word = f"{word} {t.group(1) if t else chr(63)}"
    kinds[word] += 1
print(sum(kinds.values()))
for k, v in kinds.most_common():
    print(f"{v}\t{k}")
' "$log" "$1" "$2"
}

logging all
sleep 1
secs_start=$(date +%s.%N)
start=$(stat -c %s "$log")
for _ in $(seq 1 "$n"); do
  curl -fsS -o /dev/null -H 'content-type: application/json' -H "authorization: Bearer $token" \
    "$url/api/v1/bookings" -d "$body"
done
sleep 3 # the dispatch passes (searching, then no runner yet) finish
end=$(stat -c %s "$log")
secs=$(python3 -c "import time; print(time.time() - $secs_start)")
python3 -c "import time; time.sleep($secs)" # the same length, idle
idle_end=$(stat -c %s "$log")

busy=$(count "$start" "$end")
idle=$(count "$end" "$idle_end")
begins() { grep -E "^[0-9]+\s+BEGIN$" | cut -f1 || true; }
busy_begins=$(begins <<<"$busy")
idle_begins=$(begins <<<"$idle")
python3 -c "
n, total, idle = $n, $(sed -n 1p <<<"$busy"), $(sed -n 1p <<<"$idle")
begins, idle_begins = ${busy_begins:-0}, ${idle_begins:-0}
print(f'  {n} creates: {(total - idle) / n:.1f} statements per create in {(begins - idle_begins) / n:.1f} transactions '
      f'({total} logged, {idle} in an idle window of the same length)')"
echo "  by kind, over the creates (idle window included):"
tail -n +2 <<<"$busy" | sed 's/^/    /'
