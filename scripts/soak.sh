#!/usr/bin/env bash
# Soak: `kmsedge serve` (release, default limits) under hostile load while
# valid clients activate. Not part of scripts/test.sh: it measures, it does
# not pass or fail a build. Loopback only; bounded in connections and time.
#
#   scripts/soak.sh [HOSTILE_CONNECTIONS] [ADDRESSES] [SECONDS] [RECONNECT_MS]   (10000 250 60 1000)
#
# The hostile load (examples/hostile.rs) holds HOSTILE_CONNECTIONS from
# 127.0.1.1..127.0.1.ADDRESSES — slow binds, silent, garbage, huge
# fragment headers, bound-and-idle — and opens a new one RECONNECT_MS
# after the host closes one (50 makes it a connection flood). Once it has ramped up, `kmsedge bench` activates from
# 127.0.0.1, one connection per activation (a Windows client's pattern,
# and the one that needs the host to admit it). Prints valid activations
# attempted and lost, valid latency p50/p99, the host's RSS (now and
# peak) and how many connections it shed.
#
# As root it runs in a network namespace of its own (unshare -n, only its
# loopback; SOAK_NETNS=0 to stay in the machine's): there connection
# tracking is off, so what is measured is the host, not the machine's
# nf_conntrack table — a flood of short connections fills that table
# (262 144 entries here) and the kernel then drops every new SYN, valid or
# hostile, before any listener sees it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SOAK_NETNS:-1}" = 1 ] && [ -z "${SOAK_IN_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
    cargo build --release --quiet --features native --bin kmsedge --example hostile
    exec unshare -n env SOAK_IN_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
[ -n "${SOAK_IN_NETNS:-}" ] && echo "soak: in a network namespace of its own (loopback only, no connection tracking)"
hostile_n=${1:-10000}
addresses=${2:-250}
secs=${3:-60}
reconnect_ms=${4:-1000}
target_dir=${CARGO_TARGET_DIR:-target}

# One descriptor per connection on each side, plus slack.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((hostile_n + 1000)) ] || { echo "soak: ulimit -n $(ulimit -n) is too low for $hostile_n connections" >&2; exit 1; }

cargo build --release --quiet --features native --bin kmsedge --example hostile
bin=$target_dir/release/kmsedge
hostile=$target_dir/release/examples/hostile

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$work/data" --log-format json --log-level warn,kmsedge::native::serve::server=info,kmsedge::native::serve::admin=info \
    2> "$work/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
addr_of() { # the address of the first log line with this message
    grep -m1 "\"message\":\"$1\"" "$work/serve.log" | sed -E 's/.*"addr":"([^"]+)".*/\1/'
}
for _ in $(seq 100); do
    kms=$(addr_of "KMS host listening" || true)
    http=$(addr_of "HTTP listening" || true)
    [ -n "$kms" ] && [ -n "$http" ] && break
    sleep 0.1
done
[ -n "$kms" ] || { echo "soak: the host did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "soak: host $kms (pid $serve_pid), $hostile_n hostile connections from $addresses addresses for $secs s"

"$hostile" "$kms" "$hostile_n" "$addresses" "$secs" "$reconnect_ms" > "$work/hostile.out" 2> "$work/hostile.err" &
pids+=("$!")
hostile_pid=$!

# Sample the host's RSS every second while the load runs.
(
    while kill -0 "$serve_pid" 2>/dev/null; do
        awk '/^VmRSS/ {print $2}' "/proc/$serve_pid/status" 2>/dev/null
        sleep 1
    done
) > "$work/rss" &
pids+=("$!")

# Valid load once the hostile connections are in place (they ramp up at
# 5 000 a second), until 5 s before the hostile load ends.
ramp=$(( hostile_n / 5000 + 5 ))
sleep "$ramp"
valid_secs=$(( secs - ramp - 5 ))
[ "$valid_secs" -ge 5 ] || { echo "soak: SECONDS too short (at least $((ramp + 10)))" >&2; exit 1; }
"$bin" bench "$kms" -c 4 -r 1 -n 10000000 -d "$valid_secs" --timeout 10 --json > "$work/bench.json" 2> "$work/bench.err" || true

metrics=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://$http/metrics').read().decode())")
rss_now=$(awk '/^VmRSS/ {print $2}' "/proc/$serve_pid/status")
rss_peak=$(awk '/^VmHWM/ {print $2}' "/proc/$serve_pid/status")
wait "$hostile_pid" || true

python3 - "$work/bench.json" "$work/bench.err" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("soak: bench gave no report:", open(sys.argv[2]).read().strip())
    sys.exit(0)
l, s = r["latency_ms"], r["setup_ms"]
print(f"valid: {r['attempted']} activations attempted, {r['errors']} lost ({r['unfinished']} cut off by the end of the run), {r['rate_per_s']:.0f}/s")
print(f"valid latency: p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, max {l['max']:.2f} ms (request to verified answer); connect+bind p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms")
if r["errors"]:
    print("valid errors:", r["errors_by_kind"])
EOF
cat "$work/hostile.out"
peak_sampled=$(sort -n "$work/rss" | tail -1)
echo "host RSS: ${rss_now} KiB at the end, ${rss_peak} KiB peak (sampled peak ${peak_sampled} KiB)"
echo "$metrics" | grep -E '^kmsedge_connections_(total|closed_total)\{' | sed 's/^/host: /'
