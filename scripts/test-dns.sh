#!/usr/bin/env bash
# DNS SRV discovery end to end, against a real BIND 9 (Debian's bind9).
#
# Starts `named -g` in the foreground of this script, on 127.0.0.1 at a free
# high port, with a fresh working directory holding its config, TSIG keys
# and one zone per test (each test owns its zone, so they run in parallel),
# every zone accepting updates signed with the test key. Then runs:
#   tests/dns.rs        the publisher, `dns check`, refresh, wrong keys,
#                       against `kmsedge serve` as the KMS host
#   tests/dns_serve.rs  `kmsedge serve --dns-*`: publishing from serve itself
# and stops named whatever happens (trap), removing the directory.
#
# Arguments go to cargo in place of the default `--release` (e.g.
# `scripts/test-dns.sh --profile dev` while iterating).
# Exit status 0 only if BIND started and every test passed.
set -euo pipefail
cargo_profile=(--release)
[ $# -gt 0 ] && cargo_profile=("$@")
cd "$(dirname "$0")/.."
log() { printf '[test-dns] %s\n' "$*"; }
die() { printf '[test-dns] FAIL: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"

named=$(command -v named || true)
[ -n "$named" ] || die "named (BIND 9) is not installed; the DNS tests need it: apt-get install bind9 bind9-utils (scripts/setup.sh installs them)"
keygen=$(command -v tsig-keygen || true)
[ -n "$keygen" ] || die "tsig-keygen is not installed: apt-get install bind9 bind9-utils"

work=$(mktemp -d "${TMPDIR:-/tmp}/kmsedge-dns.XXXXXX")
named_pid=
cleanup() {
    local rc=$?
    if [ -n "$named_pid" ] && kill -0 "$named_pid" 2>/dev/null; then
        kill -TERM "$named_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$named_pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$named_pid" 2>/dev/null && kill -KILL "$named_pid" 2>/dev/null || true
        wait "$named_pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$work/named.log" ]; then
        echo "--- last lines of named.log ---" >&2
        tail -25 "$work/named.log" >&2 || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- a free port (UDP and TCP) ----------------------------------------------
# With ss (iproute2) the first free one from 15353; without it, one drawn
# from the range (named's own "address in use" is checked after the start).
port=
if command -v ss >/dev/null; then
    for p in $(seq 15353 15399); do
        if [ -z "$(ss -Hlun "sport = :$p" 2>/dev/null)" ] && [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
            port=$p
            break
        fi
    done
else
    port=$((15353 + RANDOM % 47))
fi
[ -n "$port" ] || die "no free port in 15353-15399 on 127.0.0.1"

# --- keys, zones, config -----------------------------------------------------
key_name=kmsedge-test
"$keygen" -a hmac-sha256 "$key_name" > "$work/$key_name.key"
# Same name, another secret: what a mistyped or rotated key looks like.
"$keygen" -a hmac-sha256 "$key_name" > "$work/wrong.key"
# A name the server does not know.
"$keygen" -a hmac-sha256 kmsedge-unknown > "$work/unknown.key"

suffix=kms.test
zones=(publish off badkey refresh stale failover empty serve serveoff servebad)
{
    cat <<EOF
options {
    directory "$work";
    pid-file "$work/named.pid";
    session-keyfile "$work/session.key";
    listen-on port $port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    allow-query { 127.0.0.1; };
    dnssec-validation no;
    notify no;
};
controls { };
include "$work/$key_name.key";
EOF
    for z in "${zones[@]}"; do
        cat <<EOF
zone "$z.$suffix" {
    type primary;
    file "$z.$suffix.db";
    update-policy { grant $key_name zonesub ANY; };
};
EOF
    done
} > "$work/named.conf"
for z in "${zones[@]}"; do
    cat > "$work/$z.$suffix.db" <<EOF
\$TTL 300
@   IN SOA ns.$z.$suffix. hostmaster.$z.$suffix. ( 1 3600 600 86400 60 )
@   IN NS  ns.$z.$suffix.
ns  IN A   127.0.0.1
EOF
done
named-checkconf "$work/named.conf" 2>/dev/null || true

# --- start BIND --------------------------------------------------------------
log "starting $named on 127.0.0.1:$port ($work)"
"$named" -g -c "$work/named.conf" > "$work/named.log" 2>&1 &
named_pid=$!
for _ in $(seq 1 100); do
    grep -q "running$" "$work/named.log" 2>/dev/null && break
    kill -0 "$named_pid" 2>/dev/null || die "named exited during start"
    sleep 0.1
done
grep -q "running$" "$work/named.log" || die "named did not report 'running' within 10 s"
! grep -qi "address in use" "$work/named.log" || die "port $port on 127.0.0.1 is taken; named cannot listen there"
grep -q "listening on IPv4 interface lo, 127.0.0.1#$port" "$work/named.log" || die "named is not listening on 127.0.0.1#$port"
loaded=$(grep -cE "zone [a-z]+\.$suffix/IN: loaded serial" "$work/named.log" || true)
[ "$loaded" -eq "${#zones[@]}" ] || die "named loaded $loaded of ${#zones[@]} zones"

export KMSEDGE_TEST_DNS_SERVER="127.0.0.1:$port"
export KMSEDGE_TEST_DNS_KEY="$work/$key_name.key"
export KMSEDGE_TEST_DNS_WRONG_KEY="$work/wrong.key"
export KMSEDGE_TEST_DNS_UNKNOWN_KEY="$work/unknown.key"
export KMSEDGE_TEST_DNS_SUFFIX="$suffix"

# --- tests -------------------------------------------------------------------
status=0
log "tests/dns.rs: publisher and dns check against BIND"
cargo test "${cargo_profile[@]}" --test dns -- --test-threads=4 || status=1
log "tests/dns_serve.rs: kmsedge serve publishing through its --dns-* flags"
cargo test "${cargo_profile[@]}" --test dns_serve -- --test-threads=3 || status=1
kill -0 "$named_pid" 2>/dev/null || die "named died during the tests"
[ "$status" -eq 0 ] || die "DNS tests failed"
log "all DNS tests passed"
