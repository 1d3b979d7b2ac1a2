#!/usr/bin/env bash
# Property-based fuzzing of the JSON API against its own OpenAPI document (`/api/v1/openapi.json`)
# with Schemathesis: every operation gets valid and invalid requests, and every answer is checked
# against the document (no 5xx, documented statuses and bodies, valid input accepted, invalid input
# refused, 405 with `Allow` for other methods). Fails on any failure. Bounded in time.
#
# Nothing may leave the machine. The fuzzer fills in every field of the document, URLs included: a
# service's API base URL and OAuth endpoints, an invoke's absolute `url`. The app's address policy
# refuses loopback, private and link-local targets (the allow-list stays empty here, so even loopback
# is refused) but would *attempt* a public address. So:
#   1. The app and the fuzzer run in a network namespace of their own (`unshare --net`), whose only
#      interface is its own loopback: there is no route anywhere else, whatever the fuzzer generates,
#      and DNS cannot resolve. Every operation is fuzzed, the outbound ones included.
#   2. Where namespaces are not permitted, the operations that can call out are left out instead:
#      invoke, test and the proxy's (they call the service's API), and authorize (Client Credentials
#      requests a token at once). The others cannot: revoke and delete call the provider only with stored OAuth
#      tokens, which only authorize or the browser's OAuth callback (not an API operation) can obtain.
#
# Usage: tests/fuzz/run.sh
#   FUZZ_SECONDS (default 100), FUZZ_EXAMPLES (per operation and phase) and FUZZ_SEED (printed at the
#   end of every run, to repeat one) tune a run. FUZZ_DATABASE_URL runs the app on that (empty)
#   database instead of a new SQLite file, e.g. a PostgreSQL one; the app must then reach it, so
#   the run goes without a namespace, as in 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

SCHEMATHESIS_VERSION=4.32.5
FUZZ_SECONDS=${FUZZ_SECONDS:-100}
FUZZ_EXAMPLES=${FUZZ_EXAMPLES:-100}
target=${CARGO_TARGET_DIR:-$root/target}

if [[ ${1:-} != --inside ]]; then
  # Outside the namespace: install and build (both may need the network), then go in.
  if [[ $(st --version 2>/dev/null) == *" $SCHEMATHESIS_VERSION" ]]; then
    st=$(command -v st)
  else
    venv=$target/fuzz-venv
    if [[ $("$venv/bin/st" --version 2>/dev/null) != *" $SCHEMATHESIS_VERSION" ]]; then
      echo "installing Schemathesis $SCHEMATHESIS_VERSION into $venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    fi
    st=$venv/bin/st
  fi
  cargo build --locked --quiet --bin connections
  export FUZZ_ST=$st FUZZ_BIN=$target/debug/connections
  for unshare in ${FUZZ_DATABASE_URL:+skip} "unshare --net" "unshare --net --map-root-user"; do
    [[ $unshare == skip ]] && break
    if $unshare true 2>/dev/null && $unshare ip link set lo up 2>/dev/null; then
      exec $unshare -- "$0" --inside netns
    fi
  done
  echo "warning: no network namespace (unshare --net refused, or FUZZ_DATABASE_URL set):" \
    "invoke, test, the proxy and authorize are left out" >&2
  exec "$0" --inside shared
fi

mode=$2
work=$(mktemp -d)
app_pid=
stop_app() {
  if [[ -n $app_pid ]]; then
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_app EXIT

if [[ $mode == netns ]]; then
  ip link set lo up
  port=8080
else
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

# A fresh SQLite database and key file; no outbound allow-list, no plain http.
unset CONNECTIONS_OUTBOUND_ALLOW_CIDRS CONNECTIONS_OUTBOUND_ALLOW_HTTP CONNECTIONS_BASE_URL
export DATABASE_URL=${FUZZ_DATABASE_URL:-sqlite://$work/connections.db} CONNECTIONS_DATA_DIR=$work RUST_LOG=${RUST_LOG:-warn}
export CONNECTIONS_ADMIN_PASSWORD="fuzz-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$FUZZ_BIN" serve --bind "127.0.0.1:$port" --refresh-interval-secs 0 >"$work/app.log" 2>&1 &
app_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$app_pid" 2>/dev/null || { cat "$work/app.log"; exit 1; }
  sleep 0.1
done
CONNECTIONS_FUZZ_TOKEN=$("$FUZZ_BIN" token create admin --label fuzz | tail -1)
export CONNECTIONS_FUZZ_TOKEN

# Items for the fuzzer to find (schemathesis.toml names them): one service of each kind with a
# connection each, the API Key and Basic ones connected. Their URLs point at loopback port 9, which
# the address policy refuses without an allow-list: nothing is sent for them in either mode (the
# proxy's paths are joined under those URLs and cannot leave them).
api() {
  curl -fsS -o /dev/null -X "$1" "$base$2" -H "Authorization: Bearer $CONNECTIONS_FUZZ_TOKEN" \
    -H 'Content-Type: application/json' -d "$3"
}
local_url=https://127.0.0.1:9
api POST /api/v1/services '{"name": "Fuzz key", "link_name": "fuzz_key", "auth_type": "api_key",
  "api_base_url": "'$local_url'/api", "test_request": "GET /me",
  "api_key": {"param_type": "header", "params": [{"name": "X-Api-Key", "display_name": "API key"}]}}'
api POST /api/v1/services '{"name": "Fuzz basic", "link_name": "fuzz_basic", "auth_type": "basic",
  "api_base_url": "'$local_url'/api"}'
api POST /api/v1/services '{"name": "Fuzz OAuth", "link_name": "fuzz_oauth", "auth_type": "oauth2",
  "api_base_url": "'$local_url'/api", "oauth2": {"client_id": "fuzz", "client_secret": "fuzz-secret",
  "authorization_url": "'$local_url'/authorize", "token_url": "'$local_url'/token",
  "revoke_url": "'$local_url'/revoke", "scopes": [{"scope": "read", "display_name": "Read"}]}}'
api POST /api/v1/services '{"name": "Fuzz client credentials", "link_name": "fuzz_cc", "auth_type": "oauth2",
  "api_base_url": "'$local_url'/api", "oauth2": {"grant_type": "client_credentials", "client_id": "fuzz",
  "client_secret": "fuzz-secret", "token_url": "'$local_url'/token"}}'
for kind in key basic oauth cc; do
  scopes='[]'; [[ $kind == oauth ]] && scopes='["read"]'
  api POST /api/v1/connections '{"service": "fuzz_'$kind'", "name": "Fuzz '$kind'", "link_name": "fuzz_'$kind'_1",
    "scopes": '"$scopes"'}'
done
api PUT /api/v1/connections/fuzz_key_1/credentials '{"params": {"X-Api-Key": "fuzz-key-value"}}'
api PUT /api/v1/connections/fuzz_basic_1/credentials '{"username": "fuzz", "password": "fuzz-password"}'

# Revoking a token is left out: small ids come first, and id 1 is the fuzzer's own token, whose
# revocation would turn every later request into a 401 (tests/it/tokens_api.rs covers it).
args=(--max-time "$FUZZ_SECONDS" --max-examples "$FUZZ_EXAMPLES" --workers 1
      --exclude-operation-id revoke_token)
[[ -n ${FUZZ_SEED:-} ]] && args+=(--seed "$FUZZ_SEED")
if [[ $mode != netns ]]; then
  args+=(--exclude-operation-id invoke_connection --exclude-operation-id test_connection
         --exclude-operation-id authorize_connection)
  for method in get head post put patch delete options; do
    args+=(--exclude-operation-id "proxy_$method")
  done
fi
status=0
# Run from the scratch folder: Schemathesis writes its reports to the working directory.
(cd "$work" && timeout --kill-after=10 $((FUZZ_SECONDS + 60)) \
  "$FUZZ_ST" --config-file "$root/tests/fuzz/schemathesis.toml" run "$base/api/v1/openapi.json" "${args[@]}") || status=$?
if grep -q "panicked" "$work/app.log"; then
  echo "the app panicked:" >&2
  grep -A5 "panicked" "$work/app.log" >&2
  status=1
fi
if [[ $status != 0 ]]; then
  # The causes behind any 500 (logs never hold a secret).
  echo "the app's last errors:" >&2
  grep -a "ERROR" "$work/app.log" | tail -20 >&2 || true
fi
exit $status
