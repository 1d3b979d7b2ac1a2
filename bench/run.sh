#!/usr/bin/env bash
# The speed benchmark (issues 3 and 4), in one run: builds the release binary, starts it on a free
# loopback port with a fresh database, seeds it directly, signs in, and measures with wrk the cost of
# the list pages and their searches against /healthz in the same process and run. Prints the ratios
# and writes them to bench/results-<backend>.md. Not a test: nothing here asserts a time.
#
# The targets are measured in interleaved rounds (healthz, list, search, healthz, list, ...) and each
# ratio uses the median of its targets' rounds: this machine's speed drifts by 20% within a minute,
# and measuring the baseline once, before the pages, let that drift decide the ratios. Each target
# also gets its CPU time per request, split into the app's and (PostgreSQL) the database server's.
#
#   bench/run.sh [--postgres] [--connections] [--rounds N] [--duration SECONDS] [--threads N] [--concurrency N]
#   bench/run.sh --invoke [--postgres] [...]   runs bench/invoke.sh (invoke through the app vs the upstream)
#   bench/run.sh --proxy [--postgres] [...]    runs bench/proxy.sh (direct, nginx, the app's proxy, invoke)
#
#   --postgres       a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end)
#                    instead of a temp SQLite file
#   --connections    also seed 100,000 connections over 1,000 services and measure
#                    /admin/connections and its search (results in bench/results-<backend>-connections.md)
#   --rounds N       rounds over all targets (default 3), each --duration seconds (default 5) per target
#
# Needs: cargo, curl, python3, wrk (apt-get install -y wrk), and psql for --postgres.
# Every process it starts is stopped on exit; after the build, the run is bounded by
# BENCH_TIME_LIMIT seconds (default 480: seeding 100,000 connections into PostgreSQL takes three minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
WITH_CONNECTIONS=0
DURATION=5
ROUNDS=3
WARMUP=2
THREADS=2
CONCURRENCY=8
SERVICES=10000
CONNECTIONS=100000
CONNECTION_SERVICES=1000
# A vendor name fragment: ~1% of the seeded names contain it (seed.py checks it is unique).
FRAGMENT=zoho
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-480}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[[ ${1:-} == --invoke ]] && { shift; exec "$ROOT/bench/invoke.sh" "$@"; }
[[ ${1:-} == --proxy ]] && { shift; exec "$ROOT/bench/proxy.sh" "$@"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --connections) WITH_CONNECTIONS=1 ;;
        --duration) DURATION="$2"; shift ;;
        --rounds) ROUNDS="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
if [[ $BACKEND == postgres ]]; then bench_setup psql; else bench_setup; fi
bench_database "$BACKEND"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"

log "starting the server on $BASE ($BACKEND); load average $(bench_load)"
bench_start_app server "$PORT"

log "seeding $SERVICES services$( ((WITH_CONNECTIONS)) && echo " and $CONNECTIONS connections over $CONNECTION_SERVICES services")"
seed_args=(--services "$SERVICES" --fragment "$FRAGMENT")
((WITH_CONNECTIONS)) && seed_args+=(--connections "$CONNECTIONS" --connection-services "$CONNECTION_SERVICES" --owner admin)
SEED_REPORT="$(python3 "$ROOT/bench/seed.py" "$BACKEND" "$SEED_TARGET" "${seed_args[@]}")"
echo "$SEED_REPORT" >&2

log "signing in"
JAR="$WORK/cookies.txt"
login_page="$(curl -fsS --max-time 30 -c "$JAR" "$BASE/login")"
csrf="$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<< "$login_page" | head -n 1)"
[[ -n $csrf ]] || die "no csrf_token on the sign-in page"
status="$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -b "$JAR" -c "$JAR" -H "Origin: $BASE" \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "username=admin" --data-urlencode "password=$ADMIN_PASSWORD" \
    "$BASE/login")"
[[ $status == 303 ]] || die "sign-in answered $status, not 303"
session="$(awk '$6 == "connections_session" { print $7 }' "$JAR")"
[[ -n $session ]] || die "no session cookie after sign-in"
COOKIE="Cookie: connections_session=$session"

# name|path|marker|n: the page must answer 200 and contain the marker at least n times (a full first
# page of list rows, each `<tr data-link-name="…">`) before and after it is measured.
TARGETS=(
    "healthz|/healthz|ok|1"
    "services list|/admin/services|data-link-name=\"|25"
    "services search|/admin/services?q=$FRAGMENT|data-link-name=\"${FRAGMENT}_|25"
)
if ((WITH_CONNECTIONS)); then
    TARGETS+=(
        "connections list|/admin/connections|data-link-name=\"|25"
        "connections search|/admin/connections?q=$FRAGMENT|data-link-name=\"${FRAGMENT}_|25"
    )
fi

check_page() {
    local path="$1" marker="$2" want="$3" body code found
    body="$(curl -sS --max-time 30 -H "$COOKIE" -w '\n%{http_code}' "$BASE$path")"
    code="${body##*$'\n'}"
    [[ $code == 200 ]] || die "$path answered $code, not 200"
    found="$(grep -oF -- "$marker" <<< "$body" | wc -l)"
    ((found >= want)) || die "$path shows \"$marker\" $found times, expected $want (not signed in, or too few rows?)"
}

LOAD_BEFORE="$(bench_load)"
declare -A RPS P50 P99 PROBLEMS ROUND_RPS APP_US DB_US
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name path marker want <<< "$target"
    check_page "$path" "$marker" "$want"
    log "warming up $name: $path (${WARMUP}s)"
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"${WARMUP}s" -H "$COOKIE" "$BASE$path" > /dev/null
done
for round in $(seq 1 "$ROUNDS"); do
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name path _ <<< "$target"
        log "round $round/$ROUNDS, $name: $path (-t$THREADS -c$CONCURRENCY -d${DURATION}s)"
        app_before="$(cpu_ticks "$APP_PID")" db_before="$(db_cpu_ticks)"
        wrk -t"$THREADS" -c"$CONCURRENCY" -d"${DURATION}s" --latency -H "$COOKIE" "$BASE$path" > "$WORK/wrk-$round-${name// /_}.txt"
        app_after="$(cpu_ticks "$APP_PID")" db_after="$(db_cpu_ticks)"
        requests="$(wrk_requests "$WORK/wrk-$round-${name// /_}.txt")"
        APP_US[$name]+="$(us_per_request $((app_after - app_before)) "$requests") "
        DB_US[$name]+="$(us_per_request $((db_after - db_before)) "$requests") "
        parsed="$(parse_wrk "$WORK/wrk-$round-${name// /_}.txt")" || die "could not read wrk's output"
        ROUND_RPS[$name]+="${parsed%% *} "
    done
done
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name path marker want <<< "$target"
    check_page "$path" "$marker" "$want" # still signed in: the numbers are of the real page
    # The round with the median requests/s gives all of this target's numbers.
    best="$(median_round ${ROUND_RPS[$name]})"
    read -r rps p50 p99 problems <<< "$(parse_wrk "$WORK/wrk-$best-${name// /_}.txt")"
    RPS[$name]=$rps P50[$name]=$p50 P99[$name]=$p99 PROBLEMS[$name]=$problems
    [[ $problems == - ]] || echo "bench: wrk saw problems on $path: $problems" >&2
    APP_US[$name]="$(median ${APP_US[$name]})" DB_US[$name]="$(median ${DB_US[$name]})"
done

LOAD_AFTER="$(bench_load)"
RESULT="$ROOT/bench/results-$BACKEND.md"
((WITH_CONNECTIONS)) && RESULT="$ROOT/bench/results-$BACKEND-connections.md"
{
    echo "# Benchmark results: $BACKEND"
    echo
    echo "\`bench/run.sh$([[ $BACKEND == postgres ]] && echo ' --postgres')$( ((WITH_CONNECTIONS)) && echo ' --connections')\`" \
        "on $(date -u +%Y-%m-%d), $(bench_revision); $(nproc) cores (load average before: $LOAD_BEFORE, after: $LOAD_AFTER); $ROUNDS interleaved rounds of" \
        "wrk -t$THREADS -c$CONCURRENCY -d${DURATION}s per target after ${WARMUP}s warm-up, session cookie; server and wrk on the same machine." \
        "Each row is the target's median round; CPU is per request, medians over the rounds (the database's only on PostgreSQL: SQLite runs inside the app)."
    echo
    echo '```'
    echo "$SEED_REPORT"
    echo '```'
    echo
    echo "| target | path | requests/s (median) | rounds | p50 ms | p99 ms | app CPU µs | database CPU µs | wrk errors |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---|"
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name path _ <<< "$target"
        rounds="$(echo ${ROUND_RPS[$name]} | sed 's/ /, /g')"
        echo "| $name | \`$path\` | ${RPS[$name]} | $rounds | ${P50[$name]} | ${P99[$name]} | ${APP_US[$name]} | ${DB_US[$name]} | ${PROBLEMS[$name]//_/ } |"
    done
    echo
    echo "| ratio | value | target | met |"
    echo "|---|---:|---:|---|"
    r="$(ratio "${RPS[healthz]}" "${RPS[services list]}")"
    echo "| services list page cost = healthz rps / list rps | $r | ≤ 10 | $(within "$r" 10) |"
    r="$(ratio "${RPS[services list]}" "${RPS[services search]}")"
    echo "| services search cost = list rps / search rps | $r | ≤ 4 | $(within "$r" 4) |"
    if ((WITH_CONNECTIONS)); then
        r="$(ratio "${RPS[healthz]}" "${RPS[connections list]}")"
        echo "| connections list page cost = healthz rps / list rps | $r | ≤ 10 | $(within "$r" 10) |"
        r="$(ratio "${RPS[connections list]}" "${RPS[connections search]}")"
        echo "| connections search cost = list rps / search rps | $r | ≤ 4 | $(within "$r" 4) |"
    fi
} > "$RESULT"
cat "$RESULT"
log "written to ${RESULT#"$ROOT"/}"
