#!/usr/bin/env bash
# The refresh-storm benchmark (issue 22), in one run: builds the release binary, starts a loopback
# provider (bench/storm_upstream.mjs: a token endpoint that takes DELAY_MS per request, counts the
# requests in flight per client and answers 429 with Retry-After: 1 to the first service's client
# beyond LIMIT_PER_SEC requests a second; and an API that refuses an expired access token with 401,
# counting it) and the app with its default refresh settings (margin 60 s, a pass every 30 s, 4 token
# requests per service). Through the API it creates SERVICES OAuth2 services; bench/storm_seed.py then
# seeds COUNT connected connections over them whose access tokens all expire within the same WINDOW
# seconds, LEAD seconds from now. It measures invokes with wrk on one of those connections per
# service, in slices: before the storm (steady), then from the provider's first token request until
# every token is renewed; bench/storm_report.py reports
#   - the storm's duration, its bursts (the passes), renewals after expiry (0), the least time a
#     token had left when renewed, refresh tokens presented twice (0)
#   - per service: token requests, 429s, requests that came 0.1–1 s after a 429 (0), and the peak
#     in flight (≤ 4)
#   - invokes the upstream refused for an expired token (0), and the p99 of the invokes in slices
#     during a pass against the steady p99 (≤ 2×)
# Writes bench/results-storm[-postgres].md. Not a test: nothing here asserts a time.
#
#   bench/storm.sh [--postgres] [--count N] [--services N] [--slice SECONDS]
#
#   --postgres   a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end)
#   --count      connections in the storm (default 10000)
#   --services   services they spread over (default 4)
#   --slice      seconds of each wrk run (default 5): six before the storm after 2 s of warm-up,
#                then one after another until every token is renewed
#
# Needs: cargo, curl, python3 with `cryptography`, node (20+), wrk, and psql for --postgres. Every
# process it starts is stopped on exit; after the build, the run is bounded by BENCH_TIME_LIMIT
# seconds (default 600).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
COUNT=10000
SERVICES=4
SLICE=5
STEADY_SLICES=6
WARMUP=2
WINDOW=120
# Seconds from the seed to the first expiry: the steady measurement ends before the first token is
# within the lookahead (twice the 60 s margin), and the first pass after that starts the storm.
LEAD=180
DELAY_MS=5
LIMIT_PER_SEC=60
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-600}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"
CLIENT_SECRET="bench-client-secret-$RANDOM$RANDOM"

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --count) COUNT="$2"; shift ;;
        --services) SERVICES="$2"; shift ;;
        --slice) SLICE="$2"; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
python3 -c 'import cryptography' 2> /dev/null ||
    die "python3 needs the cryptography package (apt-get install -y python3-cryptography)"
if [[ $BACKEND == postgres ]]; then bench_setup node psql; else bench_setup node; fi
bench_database "$BACKEND"
KEY="bench:$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"

UP_PORT="$(free_port)"
UP="http://127.0.0.1:$UP_PORT"
log "starting the provider on $UP; load average $(bench_load)"
STORM_DELAY_MS="$DELAY_MS" STORM_LIMITED_CLIENT=storm-client-0 STORM_LIMIT_PER_SEC="$LIMIT_PER_SEC" \
    node "$ROOT/bench/storm_upstream.mjs" "$UP_PORT" "$CLIENT_SECRET" > "$WORK/upstream.log" 2>&1 &
UP_PID=$!
bench_track "$UP_PID"
wait_healthy "$UP/stats" "$UP_PID" "the provider"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
log "starting the app on $BASE ($BACKEND), default refresh settings"
bench_start_app app "$PORT" CONNECTIONS_OUTBOUND_ALLOW_CIDRS=127.0.0.1/32 CONNECTIONS_OUTBOUND_ALLOW_HTTP=true \
    CONNECTIONS_ENCRYPTION_KEYS="$KEY"

TOKEN="$(env DATABASE_URL="$DATABASE_URL" CONNECTIONS_DATA_DIR="$WORK/data" CONNECTIONS_ENCRYPTION_KEYS="$KEY" \
    "$BIN" token create admin --label bench | tail -n 1)"
[[ -n $TOKEN ]] || die "no API token"
export BENCH_TOKEN="$TOKEN"

stats() { curl -fsS "$UP/stats"; }
stat() { stats | python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$1"; }

log "creating $SERVICES OAuth2 services through the API"
LINKS=()
for ((s = 0; s < SERVICES; s++)); do
    link="storm_service_$s"
    LINKS+=("$link")
    api POST /api/v1/services "{\"name\": \"Storm service $s\", \"link_name\": \"$link\", \"auth_type\": \"oauth2\",
        \"api_base_url\": \"$UP/v1\",
        \"oauth2\": {\"client_id\": \"storm-client-$s\", \"client_secret\": \"$CLIENT_SECRET\",
            \"authorization_url\": \"$UP/authorize\", \"token_url\": \"$UP/token\",
            \"scopes\": [{\"scope\": \"read\", \"display_name\": \"Read\"}]}}" > /dev/null
done

WINDOW_START=$(($(date +%s) + LEAD))
log "seeding $COUNT connections whose tokens expire within ${WINDOW}s from $(date -u -d "@$WINDOW_START" +%T)"
python3 "$ROOT/bench/storm_seed.py" "$BACKEND" "$SEED_TARGET" --key "$KEY" --services "$(IFS=,; echo "${LINKS[*]}")" \
    --count "$COUNT" --window-start "$WINDOW_START" --window "$WINDOW" --origin "$UP" >&2

# A connection of each service, from the middle of the window: invoked before and during the storm.
INVOKED=()
for ((s = 0; s < SERVICES; s++)); do INVOKED+=("storm_$((COUNT / 2 - COUNT / 2 % SERVICES + s))"); done
export STORM_LINKS="$(IFS=,; echo "${INVOKED[*]}")"
for link in "${INVOKED[@]}"; do
    inner="$(api POST "/api/v1/connections/$link/invoke" '{"method":"GET","path":"/ping"}' | json_field status)"
    [[ $inner == 200 ]] || die "invoking $link: the upstream answered $inner, not 200 (the seeded token?)"
done

# NAME NUMBER SECONDS: one wrk run on the invoked connections, its histogram in $WORK/NAME-NUMBER.hist,
# a line "NUMBER start_ms end_ms requests/s not_ok wrk_problems" appended to $WORK/NAME.tsv.
slice() {
    local began parsed rps problems
    began="$(date +%s%3N)"
    STORM_HISTOGRAM="$WORK/$1-$2.hist" wrk -t2 -c8 -d"${3}s" --latency -s "$ROOT/bench/storm.lua" "$BASE" > "$WORK/wrk.txt"
    parsed="$(parse_wrk "$WORK/wrk.txt")" || die "could not read wrk's output: $(cat "$WORK/wrk.txt")"
    read -r rps _ _ problems <<< "$parsed"
    [[ $problems == - ]] || echo "bench: wrk saw problems in $1 $2: $problems" >&2
    echo "$2 $began $(date +%s%3N) $rps $(awk '/^not ok:/ { print $3 }' "$WORK/wrk.txt") $problems" >> "$WORK/$1.tsv"
}

LOAD_BEFORE="$(bench_load)"
log "steady: invokes on ${INVOKED[*]} (-t2 -c8, ${WARMUP}s warm-up + $STEADY_SLICES slices of ${SLICE}s)"
wrk -t2 -c8 -d"${WARMUP}s" -s "$ROOT/bench/storm.lua" "$BASE" > /dev/null
for ((k = 1; k <= STEADY_SLICES; k++)); do slice steady "$k" "$SLICE"; done
[[ -z $(stat first_request_ms) ]] || die "the storm began during the steady measurement: raise LEAD"

log "waiting for the storm (the first pass that sees tokens within twice the margin)"
until [[ -n $(stat first_request_ms) ]]; do
    (($(date +%s) < WINDOW_START)) || die "no token request by the first expiry"
    sleep 0.2
done
LOAD_STORM="$(bench_load)"
log "during the storm: the same invokes in ${SLICE}s slices until every token is renewed"
k=0
until (($(stat refreshed) >= COUNT)); do
    (($(date +%s) < WINDOW_START + WINDOW + 120)) || die "only $(stat refreshed) of $COUNT renewed two minutes after the last expiry"
    k=$((k + 1))
    slice slice "$k" "$SLICE"
done
LOAD_AFTER="$(bench_load)"
stats > "$WORK/stats.json"
NOT_RENEWED="$(
    if [[ $BACKEND == postgres ]]; then
        psql -X -At "$DATABASE_URL" -c "SELECT count(*) FROM connections WHERE link_name LIKE 'storm\_%' AND (expires_at <= $((WINDOW_START + WINDOW)) OR status <> 'connected')"
    else
        python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM connections WHERE link_name LIKE ? ESCAPE ? AND (expires_at <= ? OR status <> ?)", ("storm\\_%", "\\", int(sys.argv[2]), "connected")).fetchone()[0])' "$SEED_TARGET" "$((WINDOW_START + WINDOW))"
    fi
)"

RESULT="$ROOT/bench/results-storm.md"
[[ $BACKEND == postgres ]] && RESULT="$ROOT/bench/results-storm-postgres.md"
BACKEND="$BACKEND" DATE="$(date -u +%Y-%m-%d)" REVISION="$(bench_revision)" CORES="$(nproc)" LOAD_BEFORE="$LOAD_BEFORE" \
    LOAD_STORM="$LOAD_STORM" LOAD_AFTER="$LOAD_AFTER" COUNT="$COUNT" SERVICES="$SERVICES" WINDOW="$WINDOW" \
    NODE="$(node --version)" DELAY_MS="$DELAY_MS" LIMIT="$LIMIT_PER_SEC" INVOKED="${INVOKED[*]}" SLICE="$SLICE" \
    NOT_RENEWED="$NOT_RENEWED" python3 "$ROOT/bench/storm_report.py" "$WORK" "$RESULT"
cat "$RESULT"
log "written to ${RESULT#"$ROOT"/}"
