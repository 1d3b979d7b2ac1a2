#!/usr/bin/env bash
# The scale benchmark (issue 22, "A million connections"), in one run: builds the release binary and,
# for 10,000, 100,000 and 1,000,000 connections (over 10,000 services and 100 owners), makes a fresh
# database, starts the app on it empty (applying every migration), stops it, seeds it
# (bench/seed_scale.py: bulk SQL, timed apart), starts it again and times start → first /readyz
# success. With the three apps running side by side it then measures, in interleaved rounds (every
# target at every size in turn, so the machine's drift falls on all sizes alike), the p50 latency
# with one client of:
#   the services list, My Connections, All Connections, a service's connections (the list filtered
#   by a service), a search of All Connections by a common fragment (1% of the names), a
#   connection's and a service's details pages, and an invoke of an API-key connection against a
#   loopback upstream (bench/upstream.mjs);
# then each app's resident memory (VmRSS, and its peak VmHWM). Reports the ratios 1M / 10k.
# Writes bench/results-scale[-postgres].md. Not a test: nothing here asserts a time.
#
#   bench/scale.sh [--postgres] [--sizes "10000 100000 1000000"] [--rounds N] [--duration SECONDS]
#
#   --postgres   fresh databases on postgres://postgres@127.0.0.1:5432 (dropped at the end) instead of
#                temp SQLite files
#   --sizes      the connection counts (default 10000 100000 1000000); ratios compare the last with
#                the first
#   --rounds     interleaved rounds (default 5) of --duration seconds (default 2) per target and size,
#                after 1 s of warm-up each; every number is the median round
#
# SCALE_BIN=path measures that binary instead of the one built (another build, to compare).
#
# Needs: cargo, curl, python3, node 20+, wrk, and psql for --postgres; about 1.5 GB of disk for the
# SQLite files (PostgreSQL: about as much in its data folder). Every process it starts is stopped on
# exit; after the build the run is bounded by BENCH_TIME_LIMIT seconds (default 1200).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
SIZES=(10000 100000 1000000)
DURATION=2
ROUNDS=5
WARMUP=1
SERVICES=10000
OWNERS=100
FRAGMENT=zoho
# The 25 services that a quarter of the connections belong to (seed_scale.py): the first is one.
POPULAR_SERVICE=zoho_tickets_production_00000
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-1200}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"
API_KEY="bench-api-key-$RANDOM$RANDOM"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --sizes) read -r -a SIZES <<< "$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --rounds) ROUNDS="$2"; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
((${#SIZES[@]} >= 2)) || die "--sizes needs at least two sizes"
if [[ $BACKEND == postgres ]]; then bench_setup node psql; else bench_setup node; fi
if [[ -n ${SCALE_BIN:-} ]]; then
    BIN="$SCALE_BIN" BENCH_REVISION="the binary $SCALE_BIN"
fi

# Databases beyond the one lib.sh drops: dropped here, then lib.sh's cleanup runs as usual.
SCALE_DBS=()
scale_cleanup() {
    local status=$? db
    for db in "${SCALE_DBS[@]}"; do
        [[ $db == "$PG_DB" ]] && continue
        psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1 ||
            echo "bench: could not drop database $db" >&2
    done
    set +e
    (exit "$status") # bench_cleanup reads the status from $?
    bench_cleanup
}
trap scale_cleanup EXIT

LOAD_BEFORE="$(bench_load)"
log "load average before: $LOAD_BEFORE; $(df -h "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 " free in " $6 }')"

UP_PORT="$(free_port)"
UP="http://127.0.0.1:$UP_PORT"
log "starting the upstream on $UP"
node "$ROOT/bench/upstream.mjs" "$UP_PORT" "$API_KEY" bench-client "bench-secret-$RANDOM" > "$WORK/upstream.log" 2>&1 &
bench_track $!
wait_healthy "$UP/stats" $! "the upstream"

# SIZE: sets DB_URL[SIZE] (and SEED_AT[SIZE], what seed_scale.py takes).
declare -A DB_URL SEED_AT PORT PID COOKIE TOKEN EMPTY_START_MS START_MS SEED_S SEED_REPORT RSS_READY RSS HWM ANON FILE
make_database() {
    if [[ $BACKEND == postgres ]]; then
        local name="connections_scale_$1_$(date +%s)_$$"
        psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $name" > /dev/null
        SCALE_DBS+=("$name")
        [[ -n $PG_DB ]] || PG_DB="$name"
        DB_URL[$1]="${PG_ADMIN_URL%/*}/$name"
        SEED_AT[$1]="${DB_URL[$1]}"
    else
        DB_URL[$1]="sqlite://$WORK/scale-$1.db"
        SEED_AT[$1]="$WORK/scale-$1.db"
    fi
}

# SIZE: starts the app on its database; sets PID[SIZE] and READY_MS, the milliseconds from the fork
# to the first 200 from /readyz.
start_app() {
    local size="$1" t0
    t0="$EPOCHREALTIME"
    env DATABASE_URL="${DB_URL[$size]}" CONNECTIONS_BIND="127.0.0.1:${PORT[$size]}" \
        CONNECTIONS_BASE_URL="http://127.0.0.1:${PORT[$size]}" CONNECTIONS_DATA_DIR="$WORK/data-$size" \
        CONNECTIONS_ADMIN_PASSWORD="$ADMIN_PASSWORD" CONNECTIONS_OUTBOUND_ALLOW_CIDRS=127.0.0.1/32 \
        CONNECTIONS_OUTBOUND_ALLOW_HTTP=true RUST_LOG=warn,connections::search=info \
        "$BIN" serve >> "$WORK/app-$size.log" 2>&1 &
    PID[$size]=$!
    bench_track "${PID[$size]}"
    READY_MS="$(python3 - "http://127.0.0.1:${PORT[$size]}/readyz" "${PID[$size]}" "$t0" << 'EOF'

import os, sys, time, urllib.request
url, pid, t0 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() - t0 < 60:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            if r.status == 200:
                print(round((time.time() - t0) * 1000))
                sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the app exited during start-up")
    time.sleep(0.005)
sys.exit("not ready within 60 s")
EOF
    )" || die "the app ($size) did not get ready"
}

stop_app() {
    kill "${PID[$1]}"
    wait "${PID[$1]}" 2> /dev/null || true
}

# SIZE FIELD: a field of /proc/PID/status in MB.
proc_mb() { awk -v f="$2:" '$1 == f { printf "%.0f", $2 / 1024 }' "/proc/${PID[$1]}/status"; }

for size in "${SIZES[@]}"; do
    make_database "$size"
    PORT[$size]="$(free_port)"
    log "$size: starting the app on an empty database (every migration)"
    start_app "$size"
    EMPTY_START_MS[$size]="$READY_MS"
    stop_app "$size"
    log "$size: seeding $SERVICES services, $OWNERS owners and $size connections"
    t0="$EPOCHREALTIME"
    SEED_REPORT[$size]="$(python3 "$ROOT/bench/seed_scale.py" "$BACKEND" "${SEED_AT[$size]}" --connections "$size" \
        --services "$SERVICES" --owners "$OWNERS" --fragment "$FRAGMENT")"
    SEED_S[$size]="$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")"
    echo "${SEED_REPORT[$size]}" >&2
    log "$size: starting the app on the seeded database"
    start_app "$size"
    START_MS[$size]="$READY_MS"
    log "$size: ready after ${START_MS[$size]} ms (empty database: ${EMPTY_START_MS[$size]} ms)"
done

# SIZE: signs in (COOKIE), makes an API token (TOKEN) and, through the API, an API-key service on the
# upstream with a connected connection, bench_key.
prepare() {
    local size="$1" base="http://127.0.0.1:${PORT[$1]}" jar="$WORK/cookies-$1.txt" page csrf status session
    page="$(curl -fsS --max-time 30 -c "$jar" "$base/login")"
    csrf="$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <<< "$page" | head -n 1)"
    [[ -n $csrf ]] || die "no csrf_token on the sign-in page"
    status="$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" -H "Origin: $base" \
        --data-urlencode "csrf_token=$csrf" --data-urlencode "username=admin" \
        --data-urlencode "password=$ADMIN_PASSWORD" "$base/login")"
    [[ $status == 303 ]] || die "sign-in answered $status, not 303"
    session="$(awk '$6 == "connections_session" { print $7 }' "$jar")"
    COOKIE[$size]="Cookie: connections_session=$session"
    TOKEN[$size]="$(env DATABASE_URL="${DB_URL[$size]}" CONNECTIONS_DATA_DIR="$WORK/data-$size" \
        "$BIN" token create admin --label bench | tail -n 1)"
    api "$size" POST /api/v1/services "{\"name\": \"Bench API key\", \"link_name\": \"bench_key\",
        \"auth_type\": \"api_key\", \"api_base_url\": \"$UP/v1\",
        \"api_key\": {\"param_type\": \"header\", \"params\": [{\"name\": \"X-Api-Key\", \"display_name\": \"API Key\"}]}}" > /dev/null
    api "$size" POST /api/v1/connections \
        '{"service": "bench_key", "name": "Bench key", "link_name": "bench_key", "scopes": []}' > /dev/null
    api "$size" PUT /api/v1/connections/bench_key/credentials "{\"params\": {\"X-Api-Key\": \"$API_KEY\"}}" > /dev/null
    status="$(api "$size" POST /api/v1/connections/bench_key/invoke '{"method":"GET","path":"/ping"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')"
    [[ $status == 200 ]] || die "an invoke through bench_key ($size) answered $status, not 200"
}

# SIZE METHOD PATH [JSON]: dies unless the app answers 2xx; prints the body.
api() {
    local out code
    out="$(curl -sS --max-time 30 -X "$2" -H "Authorization: Bearer ${TOKEN[$1]}" -H 'Content-Type: application/json' \
        ${4:+--data "$4"} -w '\n%{http_code}' "http://127.0.0.1:${PORT[$1]}$3")"
    code="${out##*$'\n'}"
    [[ $code == 2?? ]] || die "$2 $3 answered $code: ${out%$'\n'*}"
    printf '%s\n' "${out%$'\n'*}"
}

for size in "${SIZES[@]}"; do prepare "$size"; done

# SIZE: the version of the connections' names that the app's name index must hold to answer.
names_version() {
    if [[ $BACKEND == postgres ]]; then
        psql -X -At "${DB_URL[$1]}" -c "SELECT v FROM connection_names_version"
    else
        python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT v FROM connection_names_version").fetchone()[0])' \
            "${SEED_AT[$1]}"
    fi
}
# The connection `prepare` made changed the names: searches are measured once each app's name index
# holds them (a search asks for the load, which runs beside the requests; meanwhile the database
# answers). The app's log line gives the index's size and load time.
declare -A INDEX_ENTRIES INDEX_MB INDEX_MS
for size in "${SIZES[@]}"; do
    version="$(names_version "$size")"
    log "$size: waiting for the name index of version $version"
    for i in $(seq 1 240); do
        line="$(grep -a "loaded the name index" "$WORK/app-$size.log" | grep -a "version=$version " | tail -n 1 || true)"
        [[ -n $line ]] && break
        # A binary that logs no load at all (an older build under SCALE_BIN) is not waited for.
        ((i < 30)) || grep -qa "loaded the name index" "$WORK/app-$size.log" || break
        curl -sS -o /dev/null -H "${COOKIE[$size]}" "http://127.0.0.1:${PORT[$size]}/admin/connections?owner=any&q=$FRAGMENT"
        sleep 0.5
    done
    if [[ -z $line ]]; then
        echo "bench: no load of the name index at $size logged; searches may be the database's" >&2
        INDEX_ENTRIES[$size]=- INDEX_MB[$size]=- INDEX_MS[$size]=-
        continue
    fi
    INDEX_ENTRIES[$size]="$(sed -n 's/.* entries=\([0-9]*\).*/\1/p' <<< "$line")"
    INDEX_MB[$size]="$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<< "$line" | awk '{ printf "%.0f", $1 / 1048576 }')"
    INDEX_MS[$size]="$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<< "$line")"
done
for size in "${SIZES[@]}"; do RSS_READY[$size]="$(proc_mb "$size" VmRSS)"; done

# A seeded connection of the admin's that every size holds: the first on My Connections at the
# smallest size (the seeder makes connection i the same at every size).
CONNECTION_LINK="$(sed -n 's/.*data-link-name="\([a-z0-9_]*_[0-9]\{7\}\)".*/\1/p' \
    <<< "$(curl -fsS -H "${COOKIE[${SIZES[0]}]}" "http://127.0.0.1:${PORT[${SIZES[0]}]}/admin/connections")" | head -n 1)"
[[ -n $CONNECTION_LINK ]] || die "no seeded connection on My Connections"

# name|path|marker|n[|info]: a page must answer 200 and hold the marker at least n times; an "info" row
# is reported without the 1.5× target.
TARGETS=(
    "services list|/admin/services|data-link-name=\"|25"
    "My Connections|/admin/connections|data-link-name=\"|25"
    "All Connections|/admin/connections?owner=any|data-link-name=\"|25"
    "a service's connections|/admin/connections?owner=any&service=$POPULAR_SERVICE|data-link-name=\"|25"
    "search, All Connections|/admin/connections?owner=any&q=$FRAGMENT|data-link-name=\"${FRAGMENT}_|25"
    "search with a status filter (the database's)|/admin/connections?owner=any&status=not_connected&q=$FRAGMENT|data-link-name=\"${FRAGMENT}_|25|info"
    "connection details|/admin/connections/$CONNECTION_LINK|$CONNECTION_LINK|1"
    "service details|/admin/services/$POPULAR_SERVICE|href=\"/admin/connections/zoho_tickets_production_|100"
    "invoke|/api/v1/connections/bench_key/invoke|-|0"
)

# SIZE PATH MARKER N: the page's first answer (its time in ms is printed) must be 200 with the marker.
check_page() {
    local size="$1" path="$2" marker="$3" want="$4" body code found ms
    body="$(curl -sS --max-time 60 -H "${COOKIE[$size]}" -w '\n%{http_code} %{time_total}' "http://127.0.0.1:${PORT[$size]}$path")"
    read -r code ms <<< "${body##*$'\n'}"
    [[ $code == 200 ]] || die "$path ($size) answered $code, not 200"
    found="$(grep -oF -- "$marker" <<< "$body" | wc -l)"
    ((found >= want)) || die "$path ($size) shows \"$marker\" $found times, expected $want"
    python3 -c "print(f'{$ms * 1000:.1f}')"
}

# SIZE NAME PATH SECONDS [--latency]: wrk with one client.
run_wrk() {
    local size="$1" name="$2" path="$3" seconds="$4"
    shift 4
    if [[ $name == invoke ]]; then
        BENCH_TOKEN="${TOKEN[$size]}" wrk -t1 -c1 -d"${seconds}s" "$@" -s "$ROOT/bench/invoke.lua" \
            "http://127.0.0.1:${PORT[$size]}$path"
    else
        wrk -t1 -c1 -d"${seconds}s" "$@" -H "${COOKIE[$size]}" "http://127.0.0.1:${PORT[$size]}$path"
    fi
}

declare -A FIRST_MS ROUND_P50 ROUND_RPS P50 RPS PROBLEMS SLOW
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name path marker want _ <<< "$target"
    for size in "${SIZES[@]}"; do
        if [[ $name != invoke ]]; then FIRST_MS[$name/$size]="$(check_page "$size" "$path" "$marker" "$want")"; fi
        log "warming up $name at $size: $path (${WARMUP}s)"
        run_wrk "$size" "$name" "$path" "$WARMUP" > /dev/null
    done
done
for round in $(seq 1 "$ROUNDS"); do
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name path _ <<< "$target"
        for size in "${SIZES[@]}"; do
            log "round $round/$ROUNDS, $name at $size (-t1 -c1 -d${DURATION}s)"
            out="$WORK/wrk-$round-${name//[^a-zA-Z]/_}-$size.txt"
            run_wrk "$size" "$name" "$path" "$DURATION" --latency > "$out"
            read -r rps p50 _ problems <<< "$(parse_wrk "$out")" || die "could not read wrk's output: $(cat "$out")"
            # Not one answer within the round: its p50 is at least the round's length.
            if (($(wrk_requests "$out") == 0)); then p50="$((DURATION * 1000)).000" SLOW[$name/$size]=1; fi
            ROUND_P50[$name/$size]+="$p50 " ROUND_RPS[$name/$size]+="$rps "
            [[ $problems == - ]] || { PROBLEMS[$name/$size]=$problems; echo "bench: wrk saw $problems on $path at $size" >&2; }
        done
    done
done
for target in "${TARGETS[@]}"; do
    IFS='|' read -r name path marker want _ <<< "$target"
    for size in "${SIZES[@]}"; do
        [[ $name == invoke ]] || check_page "$size" "$path" "$marker" "$want" > /dev/null # still signed in
        P50[$name/$size]="$(median ${ROUND_P50[$name/$size]})" RPS[$name/$size]="$(median ${ROUND_RPS[$name/$size]})"
    done
done
for size in "${SIZES[@]}"; do
    RSS[$size]="$(proc_mb "$size" VmRSS)" HWM[$size]="$(proc_mb "$size" VmHWM)"
    ANON[$size]="$(proc_mb "$size" RssAnon)" FILE[$size]="$(proc_mb "$size" RssFile)"
done
LOAD_AFTER="$(bench_load)"

SMALL="${SIZES[0]}" LARGE="${SIZES[-1]}"
human() { python3 -c "n = $1; print(f'{n // 1_000_000}M' if n % 1_000_000 == 0 else f'{n // 1000}k' if n % 1000 == 0 else n)"; }
RESULT="$ROOT/bench/results-scale.md"
[[ $BACKEND == postgres ]] && RESULT="$ROOT/bench/results-scale-postgres.md"
{
    echo "# Scale benchmark results: $BACKEND"
    echo
    echo "\`bench/scale.sh$([[ $BACKEND == postgres ]] && echo ' --postgres')\` on $(date -u +%Y-%m-%d), $(bench_revision);" \
        "$(nproc) cores shared with other work (load average before: $LOAD_BEFORE, after: $LOAD_AFTER)." \
        "$SERVICES services, $OWNERS owners; the three apps run side by side and every target is measured at every" \
        "size in turn: $ROUNDS interleaved rounds of wrk -t1 -c1 -d${DURATION}s after ${WARMUP}s warm-up, medians."
    echo
    echo "## Start and seeding"
    echo
    echo "| connections | seeding s | start → ready, empty database (all migrations) ms | start → ready, seeded ms | RSS when ready MB | RSS after the rounds MB (anonymous + file) | peak RSS MB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for size in "${SIZES[@]}"; do
        echo "| $(human "$size") | ${SEED_S[$size]} | ${EMPTY_START_MS[$size]} | ${START_MS[$size]} | ${RSS_READY[$size]} | ${RSS[$size]} (${ANON[$size]} + ${FILE[$size]}) | ${HWM[$size]} |"
    done
    echo
    echo "Anonymous resident pages are the app's own memory; file-backed ones are its binary and libraries (the"
    echo "database is read without a memory map)."
    echo
    echo "| connections | name index entries | name index MB | name index load ms |"
    echo "|---:|---:|---:|---:|"
    for size in "${SIZES[@]}"; do
        echo "| $(human "$size") | ${INDEX_ENTRIES[$size]} | ${INDEX_MB[$size]} | ${INDEX_MS[$size]} |"
    done
    echo
    echo '```'
    for size in "${SIZES[@]}"; do echo "${SEED_REPORT[$size]}"; done
    echo '```'
    echo
    echo "## p50 latency with one client, ms (first request's time in brackets)"
    echo
    header="| target | path |" rule="|---|---|"
    for size in "${SIZES[@]}"; do header+=" $(human "$size") |" rule+="---:|"; done
    echo "$header $(human "$LARGE") / $(human "$SMALL") | ≤ 1.5× |"
    echo "$rule---:|---|"
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name path _ _ kind <<< "$target"
        row="| $name | \`$path\` |"
        for size in "${SIZES[@]}"; do
            row+=" ${SLOW[$name/$size]:+≥ }${P50[$name/$size]}"
            [[ -n ${FIRST_MS[$name/$size]:-} ]] && row+=" (${FIRST_MS[$name/$size]})"
            [[ -n ${PROBLEMS[$name/$size]:-} ]] && row+=" ⚠ ${PROBLEMS[$name/$size]//_/ }"
            row+=" |"
        done
        r="$(ratio "${P50[$name/$LARGE]}" "${P50[$name/$SMALL]}")"
        verdict="$(within "$r" 1.5)"
        [[ $kind == info ]] && verdict="no target: its cost follows its matches"
        echo "$row ${SLOW[$name/$LARGE]:+≥ }$r | $verdict |"
    done
    echo
    echo "Each round's p50 (ms), per size (a round in which not one request was answered counts as its length, ≥):"
    echo
    echo '```'
    for target in "${TARGETS[@]}"; do
        IFS='|' read -r name _ <<< "$target"
        line="$(printf '%-24s' "$name")"
        for size in "${SIZES[@]}"; do line+="  $(human "$size"): ${ROUND_P50[$name/$size]% }"; done
        echo "$line"
    done
    echo '```'
    echo
    echo "| target at $(human "$LARGE") | value | target | met |"
    echo "|---|---:|---:|---|"
    echo "| start → ready | ${START_MS[$LARGE]} ms | ≤ 5000 ms | $(within "${START_MS[$LARGE]}" 5000) |"
    echo "| start → ready on an empty database (all migrations) | ${EMPTY_START_MS[$LARGE]} ms | ≤ 10000 ms | $(within "${EMPTY_START_MS[$LARGE]}" 10000) |"
    echo "| resident memory after the lists and searches | ${RSS[$LARGE]} MB | ≤ 400 MB | $(within "${RSS[$LARGE]}" 400) |"
} > "$RESULT"
cat "$RESULT"
log "written to ${RESULT#"$ROOT"/}"
