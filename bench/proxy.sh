#!/usr/bin/env bash
# The proxy benchmark (issue 22), in one run: builds the release binary, starts a loopback upstream
# (bench/upstream.mjs, GET /v1/ping with an API key), nginx in front of it as the reference of a
# credential-injecting reverse proxy (proxy_pass, the key set by proxy_set_header, keep-alive to the
# upstream), and the app with an API Key connection to the upstream, then measures the same call
#   (a) directly, (b) through nginx, (c) through the app's proxy, (d) through invoke
# with one client (p50) and with 16 clients (throughput), in interleaved rounds (the order turns each
# round), each number the median over the rounds. The cost of each way is what it adds to the direct
# call's p50. Targets (issue 22):
#   - the proxy adds at most 1.5× what nginx adds at p50 with one client;
#   - the proxy serves at least 0.8× nginx's throughput at 16 clients;
#   - invoke adds at most 2× what nginx adds at p50 with one client.
# Writes bench/results-proxy[-postgres].md (or --out FILE). Not a test: nothing here asserts a time.
#
#   bench/proxy.sh [--postgres] [--duration SECONDS] [--rounds N] [--out FILE]
#
#   --postgres    a fresh database on postgres://postgres@127.0.0.1:5432 (dropped at the end)
#   --duration    seconds per wrk measurement (default 5, after 2 s of warm-up per target)
#   --rounds      interleaved rounds over the eight measurements (default 3)
#   --out         where to write the results (a short check run should not replace the recorded ones)
#
# Needs: cargo, curl, python3, node (20+), wrk, nginx (Debian's nginx-light: NGINX, default
# /usr/sbin/nginx), and psql for --postgres. Every process it starts is stopped on exit; after the
# build, the run is bounded by BENCH_TIME_LIMIT seconds (default 420).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BACKEND=sqlite
DURATION=5
WARMUP=2
ROUNDS=3
OUT=""
NGINX="${NGINX:-/usr/sbin/nginx}"
PG_ADMIN_URL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TIME_LIMIT="${BENCH_TIME_LIMIT:-420}"
ADMIN_PASSWORD="bench-admin-password-$RANDOM$RANDOM"
API_KEY="bench-api-key-$RANDOM$RANDOM"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --duration) DURATION="$2"; shift ;;
        --rounds) ROUNDS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done
[[ -x $NGINX ]] || { echo "bench: nginx is missing at $NGINX (apt-get install -y nginx-light, or set NGINX)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
if [[ $BACKEND == postgres ]]; then bench_setup node psql; else bench_setup node; fi
bench_database "$BACKEND"

UP_PORT="$(free_port)"
UP="http://127.0.0.1:$UP_PORT"
log "starting the upstream on $UP; load average $(bench_load)"
# The OAuth client settings of upstream.mjs are not used here.
node "$ROOT/bench/upstream.mjs" "$UP_PORT" "$API_KEY" bench-client "unused-$RANDOM" > "$WORK/upstream.log" 2>&1 &
bench_track $!
wait_healthy "$UP/stats" "$!" "the upstream"

# nginx as a credential-injecting reverse proxy: as many workers as the app has (one per core), HTTP/1.1
# keep-alive to the upstream, no access log (the app writes no log line per call either).
NGINX_PORT="$(free_port)"
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" << EOF
user $(id -un) $(id -gn);
worker_processes $(nproc);
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream bench_upstream {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /v1/ {
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Api-Key "$API_KEY";
        }
    }
}
EOF
log "starting nginx on $NGINX_URL ($("$NGINX" -v 2>&1 | sed 's/.*: //'))"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" > "$WORK/nginx-out.log" 2>&1 &
NGINX_PID=$!
bench_track "$NGINX_PID"
wait_healthy "$NGINX_URL/v1/ping" "$NGINX_PID" "nginx"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
log "starting the app on $BASE ($BACKEND)"
bench_start_app app "$PORT" CONNECTIONS_OUTBOUND_ALLOW_CIDRS="127.0.0.1:$UP_PORT" CONNECTIONS_OUTBOUND_ALLOW_HTTP=true \
    CONNECTIONS_REFRESH_INTERVAL_SECS=0

TOKEN="$(env DATABASE_URL="$DATABASE_URL" CONNECTIONS_DATA_DIR="$WORK/data" "$BIN" token create admin --label bench | tail -n 1)"
[[ -n $TOKEN ]] || die "no API token"
export BENCH_TOKEN="$TOKEN"

log "creating the service and its connection through the API"
bench_key_connection "$UP/v1" "$API_KEY"

# Each way must reach the upstream with the key and come back 200 before anything is measured.
expect_200() {
    local code
    code="$(curl -sS -o "$WORK/check.txt" -w '%{http_code}' "$@")"
    [[ $code == 200 ]] || die "$* answered $code: $(head -c 300 "$WORK/check.txt")"
}
expect_200 -H "X-Api-Key: $API_KEY" "$UP/v1/ping"
expect_200 "$NGINX_URL/v1/ping"
expect_200 -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/connections/bench_key/proxy/ping"
inner="$(api POST /api/v1/connections/bench_key/invoke '{"method":"GET","path":"/ping"}' | json_field status)"
[[ $inner == 200 ]] || die "invoke: the upstream answered $inner, not 200"

# WAY T C DURATION [wrk options]: runs wrk on a way.
run_wrk() {
    local way="$1" t="$2" c="$3" d="$4"
    shift 4
    local -a target
    case "$way" in
        direct) target=(-H "X-Api-Key: $API_KEY" "$UP/v1/ping") ;;
        nginx) target=("$NGINX_URL/v1/ping") ;;
        proxy) target=(-H "Authorization: Bearer $TOKEN" "$BASE/api/v1/connections/bench_key/proxy/ping") ;;
        invoke) target=(-s "$ROOT/bench/invoke.lua" "$BASE/api/v1/connections/bench_key/invoke") ;;
    esac
    wrk -t"$t" -c"$c" -d"${d}s" "$@" "${target[@]}"
}

WAYS=(direct nginx proxy invoke)
LOAD_BEFORE="$(bench_load)"
declare -A ROUND_RPS ROUND_P50 ROUND_P99 PROBLEMS
for c in 1 16; do
    t=$((c == 1 ? 1 : 2))
    for way in "${WAYS[@]}"; do
        log "warming up $way c$c (${WARMUP}s)"
        run_wrk "$way" "$t" "$c" "$WARMUP" > /dev/null
    done
done
for round in $(seq 1 "$ROUNDS"); do
    # The order turns each round, so that no way always follows the same one.
    shift_by=$(((round - 1) % ${#WAYS[@]}))
    order=("${WAYS[@]:shift_by}" "${WAYS[@]:0:shift_by}")
    for c in 1 16; do
        t=$((c == 1 ? 1 : 2))
        for way in "${order[@]}"; do
            name="$way c$c"
            log "round $round/$ROUNDS, $name (-t$t -c$c -d${DURATION}s)"
            run_wrk "$way" "$t" "$c" "$DURATION" --latency > "$WORK/wrk.txt"
            parsed="$(parse_wrk "$WORK/wrk.txt")" || die "could not read wrk's output: $(cat "$WORK/wrk.txt")"
            read -r rps p50 p99 problems <<< "$parsed"
            ROUND_RPS[$name]+="$rps " ROUND_P50[$name]+="$p50 " ROUND_P99[$name]+="$p99 "
            [[ $problems == - ]] || { PROBLEMS[$name]=$problems; echo "bench: wrk saw problems in $name: $problems" >&2; }
        done
    done
done
LOAD_AFTER="$(bench_load)"
unauthorized="$(curl -fsS "$UP/stats" | json_field ping_unauthorized)"
((unauthorized == 0)) || die "the upstream refused $unauthorized calls (a way did not inject the key)"

declare -A RPS P50 P99
for c in 1 16; do
    for way in "${WAYS[@]}"; do
        name="$way c$c"
        # shellcheck disable=SC2086 # the round lists are split on purpose
        RPS[$name]="$(median ${ROUND_RPS[$name]})" P50[$name]="$(median ${ROUND_P50[$name]})" P99[$name]="$(median ${ROUND_P99[$name]})"
    done
done
added() { python3 -c "print(f'{$1 - $2:.3f}')"; }

SUFFIX=""
[[ $BACKEND == postgres ]] && SUFFIX=-postgres
RESULT="${OUT:-$ROOT/bench/results-proxy$SUFFIX.md}"
{
    echo "# Proxy benchmark results: $BACKEND"
    echo
    echo "\`bench/proxy.sh$([[ $BACKEND == postgres ]] && echo ' --postgres')\` on $(date -u +%Y-%m-%d), $(bench_revision);" \
        "$(nproc) cores (load average before: $LOAD_BEFORE, after: $LOAD_AFTER); $ROUNDS interleaved rounds of wrk -d${DURATION}s" \
        "after ${WARMUP}s warm-up, medians over the rounds; app, nginx ($("$NGINX" -v 2>&1 | sed 's/.*: //'), $(nproc) workers)," \
        "upstream (Node $(node --version), bench/upstream.mjs) and clients on the same machine, over loopback."
    echo
    echo "| way | wrk | requests/s | p50 ms | p99 ms | p50 added to direct, ms | wrk errors |"
    echo "|---|---|---:|---:|---:|---:|---|"
    for c in 1 16; do
        for way in "${WAYS[@]}"; do
            name="$way c$c"
            conc="-t1 -c1"
            ((c == 16)) && conc="-t2 -c16"
            problems="${PROBLEMS[$name]:--}"
            echo "| $way | $conc | ${RPS[$name]} | ${P50[$name]} | ${P99[$name]} | $(added "${P50[$name]}" "${P50[direct c$c]}") | ${problems//_/ } |"
        done
    done
    nginx_added="$(added "${P50[nginx c1]}" "${P50[direct c1]}")"
    proxy_added="$(added "${P50[proxy c1]}" "${P50[direct c1]}")"
    invoke_added="$(added "${P50[invoke c1]}" "${P50[direct c1]}")"
    echo
    echo "| ratio | value | target | met |"
    echo "|---|---:|---:|---|"
    r="$(ratio "$proxy_added" "$nginx_added")"
    echo "| p50 one client: what the proxy adds / what nginx adds | $r | ≤ 1.5 | $(within "$r" 1.5) |"
    r="$(ratio "${RPS[proxy c16]}" "${RPS[nginx c16]}")"
    echo "| throughput at 16 clients: proxy rps / nginx rps | $r | ≥ 0.8 | $(python3 -c "print('yes' if $r >= 0.8 else 'NO')") |"
    r="$(ratio "$invoke_added" "$nginx_added")"
    echo "| p50 one client: what invoke adds / what nginx adds | $r | ≤ 2 | $(within "$r" 2) |"
    r="$(ratio "${RPS[invoke c16]}" "${RPS[nginx c16]}")"
    echo "| throughput at 16 clients: invoke rps / nginx rps | $r | — | |"
} > "$RESULT"
cat "$RESULT"
log "written to ${RESULT#"$ROOT"/}"
