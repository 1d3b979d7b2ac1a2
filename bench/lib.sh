# Helpers shared by bench/run.sh and bench/invoke.sh (sourced, not run). The sourcing script sets
# `set -euo pipefail`, ROOT, TIME_LIMIT and (for PostgreSQL) PG_ADMIN_URL before calling them.
#
# bench_setup       checks the tools, builds the release binary (BIN), makes WORK, installs the trap
#                   and the time-limit watchdog
# bench_database    sqlite|postgres: sets DATABASE_URL (a temp file, or a fresh database dropped on exit)
# bench_start_app   NAME PORT [ENV=VALUE...]: starts `connections serve` in the background, waits for /healthz
# bench_track PID   stops PID on exit too (an upstream, a helper server)
# api METHOD PATH [JSON], json_field NAME   the app's JSON API at BASE with TOKEN
# bench_key_connection BASE_URL KEY   the API Key service and connection `bench_key` (header X-Api-Key)
# parse_wrk FILE    "rps p50_ms p99_ms problems" from wrk --latency output

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

BENCH_PIDS=()
WATCHDOG_PID=""
PG_DB=""
WORK=""

bench_track() { BENCH_PIDS+=("$1"); }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    # Newest first: the app before the upstream it calls.
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        pid="${BENCH_PIDS[$i]}"
        if kill -0 "$pid" 2> /dev/null; then
            kill "$pid" 2> /dev/null || true
            wait "$pid" 2> /dev/null || true
        fi
    done
    if [[ -n $WATCHDOG_PID ]]; then
        kill "$WATCHDOG_PID" 2> /dev/null || true
        wait "$WATCHDOG_PID" 2> /dev/null || true
    fi
    if [[ -n $PG_DB ]]; then
        psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" > /dev/null 2>&1 ||
            echo "bench: could not drop database $PG_DB" >&2
    fi
    if ((status != 0)) && [[ -n $WORK ]]; then
        local f
        for f in "$WORK"/*.log; do
            [[ -f $f ]] || continue
            echo "--- last lines of ${f##*/} ---" >&2
            tail -n 20 "$f" >&2
        done
    fi
    [[ -n $WORK ]] && rm -rf "$WORK"
    exit "$status"
}

# $@: extra tools the mode needs besides wrk, curl and python3.
bench_setup() {
    if ! command -v wrk > /dev/null; then
        if [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
            apt-get install -y -qq wrk > /dev/null || die "wrk is missing and could not be installed"
        else
            die "wrk is missing: apt-get install -y wrk"
        fi
    fi
    local tool
    for tool in curl python3 "$@"; do command -v "$tool" > /dev/null || die "$tool is missing"; done

    log "building the release binary"
    (cd "$ROOT" && cargo build --release --quiet)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/connections"
    BENCH_REVISION="$(bench_revision)"

    WORK="$(mktemp -d -t connections-bench.XXXXXX)"
    trap bench_cleanup EXIT
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
}

bench_database() {
    if [[ $1 == postgres ]]; then
        PG_DB="connections_bench_$(date +%s)_$$"
        psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_DB" > /dev/null
        DATABASE_URL="${PG_ADMIN_URL%/*}/$PG_DB"
        SEED_TARGET="$DATABASE_URL"
    else
        DATABASE_URL="sqlite://$WORK/connections.db"
        SEED_TARGET="$WORK/connections.db"
    fi
}

# NAME PORT [ENV=VALUE...]: the log goes to $WORK/NAME.log; sets APP_PID.
bench_start_app() {
    local name="$1" port="$2"
    shift 2
    local base="http://127.0.0.1:$port"
    env DATABASE_URL="$DATABASE_URL" CONNECTIONS_BIND="127.0.0.1:$port" CONNECTIONS_BASE_URL="$base" \
        CONNECTIONS_DATA_DIR="$WORK/data" CONNECTIONS_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn "$@" \
        "$BIN" serve > "$WORK/$name.log" 2>&1 &
    APP_PID=$!
    bench_track "$APP_PID"
    wait_healthy "$base/healthz" "$APP_PID" "$name"
}

# URL PID NAME: polls URL for up to 30 s while PID lives.
wait_healthy() {
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$1" 2> /dev/null && return 0
        kill -0 "$2" 2> /dev/null || die "$3 exited during start-up"
        sleep 0.1
    done
    die "$3 did not answer $1 within 30s"
}

# METHOD PATH [JSON]: calls the app's API at BASE with TOKEN, dies unless it answers 2xx; prints the body.
api() {
    local out code
    out="$(curl -sS --max-time 30 -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -w '\n%{http_code}' "$BASE$2")"
    code="${out##*$'\n'}"
    [[ $code == 2?? ]] || die "$1 $2 answered $code: ${out%$'\n'*}"
    printf '%s\n' "${out%$'\n'*}"
}
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# BASE_URL KEY: creates the API Key service `bench_key` (header X-Api-Key, under BASE_URL) and its
# connection `bench_key` with KEY, through the API; dies unless it is connected.
bench_key_connection() {
    api POST /api/v1/services "{\"name\": \"Bench API key\", \"link_name\": \"bench_key\", \"auth_type\": \"api_key\",
        \"api_base_url\": \"$1\",
        \"api_key\": {\"param_type\": \"header\", \"params\": [{\"name\": \"X-Api-Key\", \"display_name\": \"API Key\"}]}}" > /dev/null
    api POST /api/v1/connections '{"service": "bench_key", "name": "Bench key", "link_name": "bench_key", "scopes": []}' > /dev/null
    local status
    status="$(api PUT /api/v1/connections/bench_key/credentials "{\"params\": {\"X-Api-Key\": \"$2\"}}" | json_field status)"
    [[ $status == connected ]] || die "bench_key is $status after storing its credentials"
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
print(f"{float(rps):.0f} {p50:.3f} {p99:.3f} {','.join(problems) or '-'}")
EOF
}

# CPU time (clock ticks, user + system) of the given processes so far.
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        read -r -a fields < "/proc/$pid/stat" 2> /dev/null || continue
        # Fields 14 and 15 (utime, stime); the command name in field 2 holds no spaces here.
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}

# CPU ticks of every PostgreSQL server process (0 on SQLite, whose work is inside the app).
db_cpu_ticks() {
    if [[ ${BACKEND:-sqlite} == postgres ]]; then
        # shellcheck disable=SC2046
        cpu_ticks $(pgrep -x postgres)
    else
        echo 0
    fi
}

# TICKS REQUESTS: microseconds of CPU per request.
us_per_request() { python3 -c "print(round($1 / $(getconf CLK_TCK) / max($2, 1) * 1e6))"; }

# How many requests a wrk output file reports.
wrk_requests() { awk '/requests in/ { print $1 }' "$1"; }

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# RPS...: the (1-based) round whose requests/s is the median.
median_round() {
    local m i=0 v
    m="$(median "$@")"
    for v in "$@"; do
        i=$((i + 1))
        [[ $v == "$m" ]] && { echo "$i"; return; }
    done
}

ratio() { python3 -c "print(f'{$1 / max($2, 1e-9):.2f}')"; }
within() { python3 -c "print('yes' if $1 <= $2 else 'NO')"; }

# The revision line of a results file: the one that was built (bench_setup keeps it in BENCH_REVISION).
bench_revision() {
    [[ -n ${BENCH_REVISION:-} ]] && { echo "$BENCH_REVISION"; return; }
    local rev dirty
    rev="$(cd "$ROOT" && git rev-parse --short HEAD 2> /dev/null || echo unknown)"
    dirty="$(cd "$ROOT" && git status --porcelain -- src migrations Cargo.toml Cargo.lock 2> /dev/null | grep -q . && echo ' (with uncommitted changes to the app)' || true)"
    echo "commit $rev$dirty"
}

bench_load() { uptime | sed 's/.*load average: //'; }
