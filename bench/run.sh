#!/usr/bin/env bash
# The speed benchmark (issues 3 and 4), in one run: builds the release binary, starts it on a free
# loopback port with a fresh database, seeds it directly, signs in, and measures with wrk the cost of
# the list pages and their searches against /healthz in the same process and run. Prints the ratios
# and writes them to bench/results-<backend>.md. Not a test: nothing here asserts a time.
#
#   bench/run.sh [--postgres] [--connections] [--duration SECONDS] [--threads N] [--concurrency N]
#
#   --postgres       a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end)
#                    instead of a temp SQLite file
#   --connections    also seed 100,000 connections over 1,000 services and measure
#                    /admin/connections and its search (results in bench/results-<backend>-connections.md)
#
# Needs: cargo, curl, python3, wrk (apt-get install -y wrk), and psql for --postgres.
# Every process it starts is stopped on exit; after the build, the run is bounded by
# BENCH_TIME_LIMIT seconds (default 280).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
WITH_CONNECTIONS=0
DURATION=10
WARMUP=2
THREADS=2
CONCURRENCY=8
SERVICES=10000
CONNECTIONS=100000
CONNECTION_SERVICES=1000
# A vendor name fragment: ~1% of the seeded names contain it (seed.py checks it is unique).
FRAGMENT=zoho
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-280}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --connections) WITH_CONNECTIONS=1 ;;
        --duration) DURATION="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

if ! command -v wrk > /dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
        apt-get install -y -qq wrk > /dev/null || die "wrk is missing and could not be installed"
    else
        die "wrk is missing: apt-get install -y wrk"
    fi
fi
for tool in curl python3; do command -v "$tool" > /dev/null || die "$tool is missing"; done
[[ $BACKEND == sqlite ]] || command -v psql > /dev/null || die "psql is missing"

log "building the release binary"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/connections"

WORK="$(mktemp -d -t connections-bench.XXXXXX)"
SERVER_PID=""
WATCHDOG_PID=""
PG_DB=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2> /dev/null; then
        kill "$SERVER_PID" 2> /dev/null || true
        wait "$SERVER_PID" 2> /dev/null || true
    fi
    if [[ -n $WATCHDOG_PID ]]; then
        kill "$WATCHDOG_PID" 2> /dev/null || true
        wait "$WATCHDOG_PID" 2> /dev/null || true
    fi
    if [[ -n $PG_DB ]]; then
        psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" > /dev/null 2>&1 ||
            echo "bench: could not drop database $PG_DB" >&2
    fi
    if ((status != 0)) && [[ -f $WORK/server.log ]]; then
        echo "--- last lines of the server log ---" >&2
        tail -n 20 "$WORK/server.log" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The time bound: a watchdog that ends this script (and so, through the trap, everything it started).
(
    sleep "$TIME_LIMIT" &
    sleeper=$!
    trap 'kill $sleeper 2> /dev/null; exit 0' TERM
    wait "$sleeper"
    echo "bench: over the time limit of ${TIME_LIMIT}s, stopping" >&2
    kill -TERM $$ 2> /dev/null
) &
WATCHDOG_PID=$!

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
if [[ $BACKEND == postgres ]]; then
    PG_DB="connections_bench_$(date +%s)_$$"
    psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_DB" > /dev/null
    DATABASE_URL="${PG_ADMIN_URL%/*}/$PG_DB"
    SEED_TARGET="$DATABASE_URL"
else
    DATABASE_URL="sqlite://$WORK/connections.db"
    SEED_TARGET="$WORK/connections.db"
fi

log "starting the server on $BASE ($BACKEND)"
env DATABASE_URL="$DATABASE_URL" CONNECTIONS_BIND="127.0.0.1:$PORT" CONNECTIONS_BASE_URL="$BASE" \
    CONNECTIONS_DATA_DIR="$WORK/data" CONNECTIONS_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn \
    "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$BASE/healthz" 2> /dev/null && break
    kill -0 "$SERVER_PID" 2> /dev/null || die "the server exited during start-up"
    sleep 0.1
done
curl -fsS -o /dev/null "$BASE/healthz" || die "the server did not start within 30s"

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

# Prints "rps p50_ms p99_ms problems" from wrk --latency output ("-" when wrk saw no error status,
# socket error or timeout).
parse_wrk() {
    python3 - "$1" << 'EOF'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
problems = []
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if bad:
    problems.append(f"{bad.group(1)}_error_statuses")
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if errors:
    problems += [f"{n}_{what}" for what, n in zip(["connect_errors", "read_errors", "write_errors", "timeouts"], errors.groups()) if n != "0"]
print(f"{float(rps):.0f} {p50:.2f} {p99:.2f} {','.join(problems) or '-'}")
EOF
}

declare -A RPS P50 P99 PROBLEMS
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name path marker want <<< "$target"
    check_page "$path" "$marker" "$want"
    log "measuring $name: $path (-t$THREADS -c$CONCURRENCY, ${WARMUP}s warm-up + ${DURATION}s)"
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"${WARMUP}s" -H "$COOKIE" "$BASE$path" > /dev/null
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"${DURATION}s" --latency -H "$COOKIE" "$BASE$path" > "$WORK/wrk.txt"
    parsed="$(parse_wrk "$WORK/wrk.txt")" || die "could not read wrk's output: $(cat "$WORK/wrk.txt")"
    read -r rps p50 p99 problems <<< "$parsed"
    RPS[$name]=$rps P50[$name]=$p50 P99[$name]=$p99 PROBLEMS[$name]=$problems
    [[ $problems == - ]] || echo "bench: wrk saw problems on $path: $problems" >&2
    check_page "$path" "$marker" "$want" # still signed in: the numbers are of the real page
done

ratio() { python3 -c "print(f'{$1 / max($2, 1):.2f}')"; }
within() { python3 -c "print('yes' if $1 <= $2 else 'NO')"; }

REV="$(cd "$ROOT" && git rev-parse --short HEAD 2> /dev/null || echo unknown)"
DIRTY="$(cd "$ROOT" && git status --porcelain 2> /dev/null | grep -q . && echo ' (with uncommitted changes)' || true)"
RESULT="$ROOT/bench/results-$BACKEND.md"
((WITH_CONNECTIONS)) && RESULT="$ROOT/bench/results-$BACKEND-connections.md"
{
    echo "# Benchmark results: $BACKEND"
    echo
    echo "\`bench/run.sh$([[ $BACKEND == postgres ]] && echo ' --postgres')$( ((WITH_CONNECTIONS)) && echo ' --connections')\`" \
        "on $(date -u +%Y-%m-%d), commit $REV$DIRTY; $(nproc) cores; wrk -t$THREADS -c$CONCURRENCY -d${DURATION}s" \
        "after ${WARMUP}s warm-up, session cookie; server and wrk on the same machine."
    echo
    echo '```'
    echo "$SEED_REPORT"
    echo '```'
    echo
    echo "| target | path | requests/s | p50 ms | p99 ms | wrk errors |"
    echo "|---|---|---:|---:|---:|---|"
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name path _ <<< "$target"
        echo "| $name | \`$path\` | ${RPS[$name]} | ${P50[$name]} | ${P99[$name]} | ${PROBLEMS[$name]//_/ } |"
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
