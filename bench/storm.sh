#!/usr/bin/env bash
# The refresh-storm benchmark (issue 22), in one run: builds the release binary, starts a loopback
# provider (bench/storm_upstream.mjs: a token endpoint that takes STORM_DELAY_MS per request, counts
# the requests in flight per client and answers 429 with Retry-After: 1 to the first service's client
# beyond LIMIT_PER_SEC requests a second; and an API that refuses an expired access token with 401,
# counting it) and the app with its default refresh settings (margin 60 s, a pass every 30 s, 4 token
# requests per service). Through the API it creates SERVICES OAuth2 services; bench/storm_seed.py then
# seeds COUNT connected connections over them whose access tokens all expire within the same
# WINDOW seconds, LEAD seconds from now. It measures invoke latency with wrk on a few of those
# connections before the storm (steady) and as soon as the provider sees the first refresh (during),
# waits until every token was renewed, and reports:
#   - the storm's duration (first token request to last renewal), the renewals after expiry (0),
#     the least time a token had left when renewed, and refresh tokens spent twice (0)
#   - the peak of token requests in flight per service (≤ 4), the 429s, and the requests that came
#     within the second after a 429
#   - invokes the upstream refused for an expired token (0), and invoke p99 during / steady (≤ 2)
# Writes bench/results-storm[-postgres].md. Not a test: nothing here asserts a time.
#
#   bench/storm.sh [--postgres] [--count N] [--services N] [--duration SECONDS]
#
#   --postgres   a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end)
#   --count      connections in the storm (default 10000)
#   --services   services they spread over (default 4)
#   --duration   seconds of each wrk measurement (default 10, after 2 s of warm-up)
#
# Needs: cargo, curl, python3 with `cryptography`, node (20+), wrk, and psql for --postgres. Every
# process it starts is stopped on exit; after the build, the run is bounded by BENCH_TIME_LIMIT
# seconds (default 600).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
COUNT=10000
SERVICES=4
DURATION=10
WARMUP=2
WINDOW=120
# Seconds from the seed to the first expiry: the steady measurement ends before the first token is
# within the lookahead (twice the 60 s margin), and the first pass after that starts the storm.
LEAD=165
DELAY_MS=5
LIMIT_PER_SEC=60
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-600}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"
CLIENT_SECRET="bench-client-secret-$RANDOM$RANDOM"

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --count) COUNT="$2"; shift ;;
        --services) SERVICES="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
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

api() {
    local out code
    out="$(curl -sS --max-time 30 -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -w '\n%{http_code}' "$BASE$2")"
    code="${out##*$'\n'}"
    [[ $code == 2?? ]] || die "$1 $2 answered $code: ${out%$'\n'*}"
    printf '%s\n' "${out%$'\n'*}"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
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

declare -A P50 P99 RPS NOT_OK
# NAME: a warm-up, then the measurement, with wrk on the invoked connections.
measure() {
    local parsed rps p50 p99 problems
    wrk -t2 -c8 -d"${WARMUP}s" -s "$ROOT/bench/storm.lua" "$BASE" > /dev/null
    wrk -t2 -c8 -d"${DURATION}s" --latency -s "$ROOT/bench/storm.lua" "$BASE" > "$WORK/wrk-$1.txt"
    parsed="$(parse_wrk "$WORK/wrk-$1.txt")" || die "could not read wrk's output: $(cat "$WORK/wrk-$1.txt")"
    read -r rps p50 p99 problems <<< "$parsed"
    RPS[$1]=$rps P50[$1]=$p50 P99[$1]=$p99
    NOT_OK[$1]="$(awk '/^not ok:/ { print $3 }' "$WORK/wrk-$1.txt")"
    [[ $problems == - ]] || echo "bench: wrk saw problems in $1: $problems" >&2
}

LOAD_BEFORE="$(bench_load)"
log "steady: invokes on ${INVOKED[*]} (-t2 -c8, ${WARMUP}s warm-up + ${DURATION}s)"
measure steady
[[ -z $(stat first_request_ms) ]] || die "the storm began during the steady measurement: raise LEAD"
(($(date +%s) < WINDOW_START - 2 * 60)) || echo "bench: the steady measurement ended inside the lookahead" >&2

log "waiting for the storm (the first pass that sees tokens within twice the margin)"
until [[ -n $(stat first_request_ms) ]]; do
    (($(date +%s) < WINDOW_START)) || die "no token request by the first expiry"
    sleep 0.2
done
LOAD_STORM="$(bench_load)"
log "during the storm: the same invokes (${WARMUP}s warm-up + ${DURATION}s)"
measure during
log "waiting for every token to be renewed"
until (($(stat refreshed) >= COUNT)); do
    (($(date +%s) < WINDOW_START + WINDOW + 120)) || die "only $(stat refreshed) of $COUNT renewed two minutes after the last expiry"
    sleep 0.5
done
LOAD_AFTER="$(bench_load)"
STATS="$(stats)"
s() { python3 -c 'import json, sys; print(eval(sys.argv[2], {}, json.loads(sys.argv[1])))' "$STATS" "$1"; }
NOT_RENEWED="$(
    if [[ $BACKEND == postgres ]]; then
        psql -X -At "$DATABASE_URL" -c "SELECT count(*) FROM connections WHERE link_name LIKE 'storm\_%' AND (expires_at <= $((WINDOW_START + WINDOW)) OR status <> 'connected')"
    else
        python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM connections WHERE link_name LIKE ? ESCAPE ? AND (expires_at <= ? OR status <> ?)", ("storm\\_%", "\\", int(sys.argv[2]), "connected")).fetchone()[0])' "$SEED_TARGET" "$((WINDOW_START + WINDOW))"
    fi
)"

RESULT="$ROOT/bench/results-storm.md"
[[ $BACKEND == postgres ]] && RESULT="$ROOT/bench/results-storm-postgres.md"
{
    echo "# Refresh storm benchmark results: $BACKEND"
    echo
    echo "\`bench/storm.sh$([[ $BACKEND == postgres ]] && echo ' --postgres')\` on $(date -u +%Y-%m-%d), $(bench_revision);" \
        "$(nproc) cores, shared with other builds (load average before: $LOAD_BEFORE; at the storm's start: $LOAD_STORM;" \
        "after: $LOAD_AFTER). App defaults: refresh margin 60 s (lookahead 120 s), a pass every 30 s, 4 token requests" \
        "per service. $COUNT connections over $SERVICES services, access tokens expiring evenly within the same ${WINDOW} s;" \
        "the provider (Node $(node --version), bench/storm_upstream.mjs) answers a token request after ${DELAY_MS} ms and" \
        "allows the first service's client $LIMIT_PER_SEC a second (then 429, Retry-After: 1). wrk -t2 -c8 on" \
        "${#INVOKED[@]} of those connections (one per service), ${WARMUP} s warm-up + ${DURATION} s, before the storm and from its first" \
        "token request; all over loopback."
    echo
    echo "| storm | value | target |"
    echo "|---|---:|---:|"
    echo "| duration: first token request to last renewal | $(s '(last_refresh_ms - first_request_ms) / 1000') s | before the tokens expire |"
    echo "| tokens renewed | $(s refreshed) of $COUNT | all |"
    echo "| renewed after their access token expired | $(s refreshed_late) | 0 |"
    echo "| least time left on a token when renewed | $(s 'round(min_headroom_ms / 1000, 1)') s | > 0 |"
    echo "| connections not renewed or not connected afterwards (database) | $NOT_RENEWED | 0 |"
    echo "| refresh tokens spent twice | $(s reused) | 0 |"
    echo "| 429s answered (Retry-After: 1) | $(s throttled) | — |"
    echo
    echo "| service | token requests | renewed | 429s | requests within 1 s after a 429 | peak in flight |"
    echo "|---|---:|---:|---:|---:|---:|"
    for ((k = 0; k < SERVICES; k++)); do
        c="clients['storm-client-$k']"
        echo "| ${LINKS[$k]}$( ((k == 0)) && echo " (limited to $LIMIT_PER_SEC/s)") | $(s "$c['requests']") | $(s "$c['refreshed']") | $(s "$c['throttled']") | $(s "$c['early']") | $(s "$c['peak']") |"
    done
    echo
    echo "| invokes | requests/s | p50 ms | p99 ms | not 200 |"
    echo "|---|---:|---:|---:|---:|"
    for name in steady during; do
        echo "| $name | ${RPS[$name]} | ${P50[$name]} | ${P99[$name]} | ${NOT_OK[$name]} |"
    done
    echo
    echo "| ratio / check | value | target | met |"
    echo "|---|---:|---:|---|"
    r="$(ratio "${P99[during]}" "${P99[steady]}")"
    echo "| invoke p99 during / steady | $r | ≤ 2 | $(within "$r" 2) |"
    echo "| invokes the upstream refused for an expired token | $(s ping_expired) | 0 | $(within "$(s ping_expired)" 0) |"
    peak="$(s "max(c['peak'] for c in clients.values())")"
    echo "| peak token requests in flight, any service | $peak | ≤ 4 | $(within "$peak" 4) |"
    echo "| renewals after expiry | $(s refreshed_late) | 0 | $(within "$(s refreshed_late)" 0) |"
} > "$RESULT"
cat "$RESULT"
log "written to ${RESULT#"$ROOT"/}"
