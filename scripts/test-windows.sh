#!/usr/bin/env bash
# kmsedge.exe for Windows, tested here: cross-built by
# scripts/package-windows.sh (x86_64-pc-windows-gnu, mingw-w64), checked as
# a 64-bit console PE importing only DLLs Windows ships, then run under
# wine (Debian's wine64):
#   1. `kmsedge.exe serve` on loopback, activated from Linux by the native
#      `kmsedge activate` (every client check of a real Windows client);
#   2. the service path through wine's service control manager:
#      `service install` (the event source's registry key appears),
#      `service start`, an activation, the Event Log entry 12290 for it
#      (wine's ReportEventW writes what it is given to its debug channel,
#      which is where this test reads it), `service stop`, `service
#      uninstall` (service and event source gone).
# KMSEDGE_CLIENT=path: the Linux kmsedge to activate with (else built).
# Installs mingw-w64 and wine64 with apt when missing; wine's prefix is
# cached in ~/.cache/kmsedge/wine (its first wineboot takes ~10-30 s).
# Prints "windows: N passed, M failed"; exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '[test-windows] %s\n' "$*"; }
passed=0
failed=0
ok() { passed=$((passed + 1)); log "ok: $*"; }
bad() { failed=$((failed + 1)); log "FAILED: $*"; }
finish() {
    echo "windows: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 )) s"; }

# --- tools ---------------------------------------------------------------------
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64-posix)
[ -x /usr/lib/wine/wine64 ] || missing+=(wine64)
if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
        || { bad "apt-get install ${missing[*]}"; finish; }
fi

# --- build ---------------------------------------------------------------------
exe=$(scripts/package-windows.sh | tail -1)
if [ -f "$exe" ]; then ok "cross-built $exe ($(stat -c %s "$exe") bytes) at $(elapsed)"; else bad "scripts/package-windows.sh built nothing"; finish; fi
# The Linux client: KMSEDGE_CLIENT names one already built (e.g. a debug
# build while iterating); otherwise the release build (which test.sh's
# earlier steps have made).
client=${KMSEDGE_CLIENT:-}
if [ -z "$client" ]; then
    cargo build -q --release --bin kmsedge || { bad "native build of the client"; finish; }
    client=${CARGO_TARGET_DIR:-target}/release/kmsedge
fi

# --- the PE itself -------------------------------------------------------------
objdump=x86_64-w64-mingw32-objdump
if $objdump -f "$exe" | grep -q 'file format pei-x86-64'; then ok "a PE32+ x86-64 image"; else bad "not a PE32+ x86-64 image: $($objdump -f "$exe" | head -3)"; fi
headers=$($objdump -p "$exe")
if grep -q 'Subsystem.*(Windows CUI)' <<<"$headers"; then ok "console subsystem"; else bad "not a console program"; fi
# Only Windows' own DLLs: no mingw runtime (libgcc_s, libwinpthread, ...)
# to ship next to the exe.
dlls=$(awk '/DLL Name:/{print $3}' <<<"$headers" | sort -u)
foreign=$(grep -i '^lib' <<<"$dlls" || true)
if [ -n "$dlls" ] && [ -z "$foreign" ]; then ok "imports only system DLLs: $(tr '\n' ' ' <<<"$dlls")"; else bad "imports DLLs Windows does not ship: ${foreign:-none listed}"; fi

# --- wine ----------------------------------------------------------------------
wine=/usr/lib/wine/wine64
export WINEPREFIX=$HOME/.cache/kmsedge/wine
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
work=$(mktemp -d "${TMPDIR:-/tmp}/kmsedge-win.XXXXXX")
cleanup() {
    # Ends every process of this prefix (the host, services.exe) and its wineserver.
    /usr/lib/wine/wineserver -k 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
winpath() { printf 'Z:%s' "${1//\//\\}"; }

mkdir -p "$(dirname "$WINEPREFIX")"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    b=$(date +%s)
    WINEDEBUG=-all timeout 300 "$wine" wineboot --init >"$work/wineboot.log" 2>&1 \
        || { bad "wineboot (see below)"; tail -5 "$work/wineboot.log"; finish; }
    log "wine prefix created in $(( $(date +%s) - b )) s"
fi
# Wine 8.0 (Debian 12) has no bcryptprimitives.dll, where Rust's std gets
# its random bytes on Windows 10+: the prefix gets a stand-in (see the file).
if [ ! -f /usr/lib/x86_64-linux-gnu/wine/x86_64-windows/bcryptprimitives.dll ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
        scripts/lib/wine-bcryptprimitives.c -ladvapi32 || { bad "building the bcryptprimitives.dll stand-in"; finish; }
    log "wine $("$wine" --version 2>/dev/null) lacks bcryptprimitives.dll: stand-in installed in the prefix"
fi
# One wineserver for the whole run, its programs' debug output (services.exe
# and the service it starts included) in wine.log: the Event Log's channel
# and the service's own stderr.
export WINEDEBUG=-all,fixme+advapi,trace+eventlog
/usr/lib/wine/wineserver -k 2>/dev/null || true

free_port() {
    local p
    for p in $(seq "$1" "$(( $1 + 40 ))"); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
}
wait_listening() { # port, seconds
    local i
    for i in $(seq 1 $(( $2 * 5 ))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

product="Windows 10/11 Enterprise"

# 1. kmsedge.exe serve in the foreground of wine.
port=$(free_port 17688)
mkdir -p "$work/serve"
timeout 300 "$wine" "$exe" serve --listen "127.0.0.1:$port" --http off --data "$(winpath "$work/serve")" \
    >"$work/serve.log" 2>&1 &
serve_pid=$!
if wait_listening "$port" 90; then
    ok "kmsedge.exe serve listens on 127.0.0.1:$port under wine at $(elapsed)"
    if timeout 60 "$client" activate "127.0.0.1:$port" --product "$product" >"$work/activate1.log" 2>&1; then
        ok "activated from Linux against kmsedge.exe serve: $(grep -m1 -i 'count' "$work/activate1.log" | tr -s ' ')"
    else
        bad "activation against kmsedge.exe serve"; tail -15 "$work/activate1.log"
    fi
    if timeout 10 bash -c "until grep -q 'activated' '$work/serve.log'; do sleep 0.2; done"; then
        ok "kmsedge.exe logged the activation: $(grep -m1 'activated' "$work/serve.log" | cut -c1-160)"
    else
        bad "no activation line in kmsedge.exe's log"; tail -5 "$work/serve.log"
    fi
else
    bad "kmsedge.exe serve did not listen within 90 s"; tail -20 "$work/serve.log"
fi
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null
/usr/lib/wine/wineserver -k 2>/dev/null || true
/usr/lib/wine/wineserver -w 2>/dev/null || true

# 2. The service, through wine's service control manager.
port=$(free_port 17730)
mkdir -p "$work/service"
wl="$work/wine.log"
w() { timeout 120 "$wine" "$exe" "$@" 2>>"$wl"; }
reg_key='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Key Management Service\kmsedge'
w service uninstall >/dev/null # a run stopped half-way (its error is expected)
if w service install --listen "127.0.0.1:$port" --http off --data "$(winpath "$work/service")" >"$work/install.out"; then
    ok "service install: $(head -1 "$work/install.out")"
else
    bad "service install"; tail -5 "$wl"
fi
if timeout 60 "$wine" reg query "$reg_key" 2>>"$wl" | grep -q TypesSupported; then ok "event source registered ($reg_key)"; else bad "no event source key after install"; fi
if timeout 120 "$wine" "$exe" service install --listen "not an address" >"$work/bad.out" 2>"$work/bad.err"; then
    bad "service install accepted --listen 'not an address'"
else
    ok "service install refuses a bad serve flag: $(grep -m1 '^kmsedge:' "$work/bad.err")"
fi
# Wine's service manager may start an automatic service on its own: stop
# it first, so that `service start` is what starts it.
w service stop >/dev/null || bad "service stop before start"
if w service start >"$work/start.out" && wait_listening "$port" 60; then
    ok "service start: $(head -1 "$work/start.out"), listening on 127.0.0.1:$port at $(elapsed)"
    if timeout 60 "$client" activate "127.0.0.1:$port" --product "$product" --workstation wine-test.example >"$work/activate2.log" 2>&1; then
        ok "activated from Linux against the service"
    else
        bad "activation against the service"; tail -15 "$work/activate2.log"
    fi
    # The entry: ReportEventW(type 4 = information, id 0x3002 = 12290) with
    # the activation line as its one string.
    if timeout 15 bash -c "until grep -q 'ReportEventW.*0x00003002' '$wl' && grep -q 'eventlog.*activated.*wine-test.example' '$wl'; do sleep 0.3; done"; then
        ok "Event Log entry 12290: $(grep -m1 'eventlog.*activated' "$wl" | cut -c1-200)"
    else
        bad "no Event Log entry 12290 for the activation"; grep -E 'ReportEventW|eventlog' "$wl" | tail -5
    fi
else
    bad "service start"; tail -20 "$wl"
fi
if w service stop >"$work/stop.out" && ! wait_listening "$port" 1; then ok "service stop: $(head -1 "$work/stop.out")"; else bad "service stop"; tail -10 "$wl"; fi
if w service uninstall >"$work/uninstall.out"; then ok "service uninstall: $(head -1 "$work/uninstall.out")"; else bad "service uninstall"; tail -5 "$wl"; fi
if timeout 60 "$wine" reg query "$reg_key" >/dev/null 2>&1; then bad "event source key still there after uninstall"; else ok "event source removed"; fi
log "done in $(elapsed)"
finish
