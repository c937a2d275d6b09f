#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, skipping what is
# already present at the right version. Idempotent; safe to run every time.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
WASM_PACK_VERSION=0.13.1
WORKER_BUILD_VERSION=0.8.7
APT_PACKAGES=(chromium chromium-driver fonts-dejavu-core bind9 bind9-utils)

log() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

have() { "$HOME/.cargo/bin/$1" --version 2>/dev/null | grep -q "$2"; }
have wasm-pack "$WASM_PACK_VERSION" || { log "cargo install wasm-pack $WASM_PACK_VERSION"; cargo install -q wasm-pack@"$WASM_PACK_VERSION" --locked; }
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly; --locked
# fails on a yanked transitive dependency, so it is installed without it.
have wasm-bindgen "$WASM_BINDGEN_VERSION" || { log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"; cargo install -q wasm-bindgen-cli@"$WASM_BINDGEN_VERSION"; }
have worker-build "$WORKER_BUILD_VERSION" || { log "cargo install worker-build $WORKER_BUILD_VERSION"; cargo install -q worker-build@"$WORKER_BUILD_VERSION" --locked; }

# Stock cloudflared (tests/edge_cloudflared.rs runs `cloudflared access tcp`
# against `wrangler dev`): Cloudflare's release binary, as shipped inside the
# PyPI wheel pyflared, pinned by version and by the wheel's SHA-256.
CLOUDFLARED_VERSION=2026.6.0
PYFLARED_VERSION=0.1.0
PYFLARED_SHA256=7c13bc24492fdb25e44425cc0cbe483fe92c55d2d0274a14054377292e880672
CLOUDFLARED=$HOME/.cache/kmsedge/bin/cloudflared
if ! "$CLOUDFLARED" --version 2>/dev/null | grep -q "^cloudflared version $CLOUDFLARED_VERSION "; then
  [ "$(uname -m)" = x86_64 ] || { log "cloudflared: the pinned pyflared wheel is x86_64 only, not $(uname -m)"; exit 1; }
  log "cloudflared $CLOUDFLARED_VERSION (from the pyflared $PYFLARED_VERSION wheel)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_17_x86_64 "pyflared==$PYFLARED_VERSION" -d "$tmp"
  whl=$tmp/pyflared-$PYFLARED_VERSION-py3-none-manylinux_2_17_x86_64.whl
  echo "$PYFLARED_SHA256  $whl" | sha256sum -c --quiet - || { log "cloudflared: $whl does not have the pinned SHA-256"; exit 1; }
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("pyflared/bin/cloudflared"))' \
    "$whl" > "$tmp/cloudflared"
  chmod 755 "$tmp/cloudflared"
  "$tmp/cloudflared" --version | grep -q "^cloudflared version $CLOUDFLARED_VERSION " \
    || { log "cloudflared: the wheel holds $("$tmp/cloudflared" --version), not $CLOUDFLARED_VERSION"; exit 1; }
  mkdir -p "$(dirname "$CLOUDFLARED")"
  mv -f "$tmp/cloudflared" "$CLOUDFLARED"
  rm -rf "$tmp"
  trap - EXIT
fi

# npm ci only when the committed lock file changed since the last install.
stamp=node_modules/.kmsedge-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
log "ready"
