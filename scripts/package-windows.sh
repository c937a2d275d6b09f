#!/usr/bin/env bash
# Builds kmsedge.exe for 64-bit Windows: cross-compiled here for
# x86_64-pc-windows-gnu with Debian's mingw-w64, statically linked against
# the C runtime pieces it needs, so it runs on a stock Windows 10/11 or
# Server 2016+ without extra DLLs (scripts/test-windows.sh checks the
# imports). Installs the Rust target and mingw-w64 when missing.
#
# Output: <target dir>/dist/windows/kmsedge-<version>-x86_64-windows.zip
# holding kmsedge.exe and its SHA-256; the path of the .exe is the last
# line printed. A caller (e.g. a scripts/package.sh for every platform) can
# run this as it is. Release only: a debug build fails to link the crate's
# cdylib (kept for wasm) as a DLL, its exports (shared generics) being over
# the PE limit of 65 535.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[package-windows] %s\n' "$*" >&2; }
die() { printf '[package-windows] FAIL: %s\n' "$*" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

TARGET=x86_64-pc-windows-gnu
[ $# -eq 0 ] || die "no arguments expected"

missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64-posix)
command -v zip >/dev/null || missing+=(zip)
if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]} (mingw-w64: linker, C compiler, strip)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$TARGET" || { log "rustup target add $TARGET"; rustup target add "$TARGET" >&2; }

version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
target_dir=${CARGO_TARGET_DIR:-target}
start=$(date +%s)
log "cargo build --release --target $TARGET --bin kmsedge"
# The C parts (SQLite, ring) are compiled by mingw's gcc; cc-rs finds it by
# the target's name, and rustc links with it by default.
cargo build --release --target "$TARGET" --bin kmsedge >&2
exe="$target_dir/$TARGET/release/kmsedge.exe"
[ -f "$exe" ] || die "no $exe after the build"
log "built in $(( $(date +%s) - start )) s: $exe ($(stat -c %s "$exe") bytes)"

out="$target_dir/dist/windows"
name="kmsedge-$version-x86_64-windows"
rm -rf "${out:?}/$name" "$out/$name.zip"
mkdir -p "$out/$name"
# Without its symbols: a third of the size.
x86_64-w64-mingw32-strip -o "$out/$name/kmsedge.exe" "$exe"
(cd "$out/$name" && sha256sum kmsedge.exe > kmsedge.exe.sha256)
(cd "$out" && zip -q -9 -r "$name.zip" "$name")
log "$out/$name.zip ($(stat -c %s "$out/$name.zip") bytes; kmsedge.exe $(stat -c %s "$out/$name/kmsedge.exe") bytes)"
echo "$out/$name/kmsedge.exe"
