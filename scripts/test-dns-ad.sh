#!/usr/bin/env bash
# SRV publishing into Active Directory DNS (GSS-TSIG, RFC 3645), against a
# real Samba AD domain controller (Debian's samba, internal DNS server).
#
# Installs what it needs with apt-get if missing (samba's AD DC parts, and
# libkrb5-dev + libclang-dev to build the `ad-dns` feature), builds
# tests/dns_ad.rs, then in a network namespace of its own (only its
# loopback, so the DC's ports 53/88/389/445 clash with nothing):
#   - provisions the domain AD.KMS.TEST once (samba-tool domain provision,
#     SAMBA_INTERNAL DNS; zone ad.kms.test accepts secure updates only);
#   - starts `samba -i` and waits for its DNS and KDC;
#   - creates the host's machine account KMSHOST$ and exports its keytab
#     (samba-tool domain exportkeytab), and a second account KMSSTALE$
#     whose password is changed after its keytab was exported;
#   - runs the tests inside the namespace.
# Samba is stopped, the namespace deleted and the directory removed
# whatever happens (trap).
#
# Arguments go to cargo in place of the default `--release` (e.g.
# `scripts/test-dns-ad.sh --profile dev` while iterating).
# Exit status 0 only if the DC started and every test passed.
set -euo pipefail
cargo_profile=(--release)
[ $# -gt 0 ] && cargo_profile=("$@")
cd "$(dirname "$0")/.."
log() { printf '[test-dns-ad] %s\n' "$*"; }
die() { printf '[test-dns-ad] FAIL: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:/usr/sbin:/sbin:$PATH"
started=$(date +%s)

# --- packages ------------------------------------------------------------------
packages=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind libkrb5-dev libclang-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not root to install them"
    export DEBIAN_FRONTEND=noninteractive
    timeout 900 apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null \
        || { timeout 300 apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null && \
             timeout 900 apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null; } \
        || die "apt-get install ${missing[*]} failed"
fi
command -v samba >/dev/null || die "samba is not installed"
command -v ip >/dev/null || die "ip (iproute2) is not installed"
[ "$(id -u)" -eq 0 ] || die "a network namespace and a Samba DC need root"

# --- build first, outside the namespace ---------------------------------------------
log "building tests/dns_ad.rs (feature ad-dns)"
timeout 1500 cargo test "${cargo_profile[@]}" --features ad-dns --test dns_ad --no-run

# --- namespace, domain, DC -----------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/kmsedge-ad.XXXXXX")
ns="kmsedge-ad-$$"
samba_pid=
cleanup() {
    local rc=$?
    if [ -n "$samba_pid" ] && kill -0 "$samba_pid" 2>/dev/null; then
        kill -TERM "$samba_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$samba_pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$samba_pid" 2>/dev/null && kill -KILL "$samba_pid" 2>/dev/null || true
        wait "$samba_pid" 2>/dev/null || true
    fi
    # Whatever of the DC's children is left lives only in our namespace.
    if ip netns pids "$ns" >/dev/null 2>&1; then
        for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns delete "$ns" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$work/samba.log" ]; then
        echo "--- last lines of samba.log ---" >&2
        tail -25 "$work/samba.log" >&2 || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

realm=AD.KMS.TEST
zone=ad.kms.test
t0=$(date +%s)
log "provisioning $realm (Samba AD DC, internal DNS) in namespace $ns"
in_ns timeout 300 samba-tool domain provision --realm="$realm" --domain=KMSTEST --server-role=dc \
    --dns-backend=SAMBA_INTERNAL --adminpass='Kmsedge-Adm1n!' --host-name=dc1 --host-ip=127.0.0.1 \
    --targetdir="$work/dc" --option="interfaces=lo" --option="bind interfaces only=yes" \
    > "$work/provision.log" 2>&1 || { tail -20 "$work/provision.log" >&2; die "samba-tool domain provision failed"; }
conf="$work/dc/etc/smb.conf"
# No forwarder: the DC answers for its own zones only, nothing leaves the
# namespace. Its pid file, sockets and logs in the work directory, away
# from any other Samba on the machine.
sed -i '/dns forwarder/d; /log file/d' "$conf"
mkdir -p "$work/dc/run"
sed -i "/^\[global\]/a\\
\tpid directory = $work/dc/run\\
\tncalrpc dir = $work/dc/run/ncalrpc\\
\twinbindd socket directory = $work/dc/run/winbindd\\
\tntp signd socket directory = $work/dc/run/ntp_signd\\
\tlog file = $work/dc/log.%m" "$conf"
log "provisioned in $(( $(date +%s) - t0 )) s"

cat > "$work/krb5.conf" <<EOF
[libdefaults]
    default_realm = $realm
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
[realms]
    $realm = {
        kdc = 127.0.0.1
    }
[domain_realm]
    .$zone = $realm
    $zone = $realm
EOF
export KRB5_CONFIG="$work/krb5.conf"

in_ns samba -i -s "$conf" > "$work/samba.log" 2>&1 &
samba_pid=$!
ready=
for _ in $(seq 1 300); do
    kill -0 "$samba_pid" 2>/dev/null || die "samba exited during start"
    if in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/53 && exec 4<>/dev/tcp/127.0.0.1/88' 2>/dev/null; then ready=1; break; fi
    sleep 0.2
done
[ -n "$ready" ] || die "the DC's DNS (53) and KDC (88) did not listen within 60 s"
log "DC running (DNS and KDC on 127.0.0.1 in $ns) after $(( $(date +%s) - t0 )) s"

# --- machine accounts and keytabs ----------------------------------------------------------
st() { in_ns timeout 120 samba-tool "$@" -s "$conf" > /dev/null 2>> "$work/samba-tool.log" || die "samba-tool $1 $2 failed: $(tail -3 "$work/samba-tool.log")"; }
st computer create KMSHOST
st user setpassword 'KMSHOST$' --newpassword="Kms-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')-1x!"
st domain exportkeytab "$work/kmshost.keytab" --principal='KMSHOST$'
st computer create KMSSTALE
st user setpassword 'KMSSTALE$' --newpassword="Kms-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')-2y!"
st domain exportkeytab "$work/stale.keytab" --principal='KMSSTALE$'
# The account's password changes after the export: that keytab is now stale.
st user setpassword 'KMSSTALE$' --newpassword="Kms-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')-3z!"
[ -s "$work/kmshost.keytab" ] && [ -s "$work/stale.keytab" ] || die "samba-tool domain exportkeytab wrote no keytab"

export KMSEDGE_TEST_AD_SERVER=127.0.0.1:53
export KMSEDGE_TEST_AD_ZONE=$zone
export KMSEDGE_TEST_AD_KEYTAB="$work/kmshost.keytab"
export KMSEDGE_TEST_AD_PRINCIPAL="KMSHOST\$@$realm"
export KMSEDGE_TEST_AD_STALE_KEYTAB="$work/stale.keytab"
export KMSEDGE_TEST_AD_STALE_PRINCIPAL="KMSSTALE\$@$realm"
# For the in-process test (kmsedge serve sets these itself from --dns-keytab).
export KRB5_CLIENT_KTNAME="FILE:$work/kmshost.keytab"
export KRB5CCNAME="MEMORY:kmsedge-test"

# --- tests ------------------------------------------------------------------------------
log "tests/dns_ad.rs against the DC's DNS"
status=0
in_ns timeout 600 cargo test "${cargo_profile[@]}" --features ad-dns --test dns_ad -- --test-threads=3 || status=1
kill -0 "$samba_pid" 2>/dev/null || die "samba died during the tests"
[ "$status" -eq 0 ] || die "AD DNS tests failed"
log "all AD DNS tests passed (Samba AD DC, $(( $(date +%s) - started )) s in all)"
