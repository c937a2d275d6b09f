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

# npm ci only when the committed lock file changed since the last install.
stamp=node_modules/.kmsedge-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
log "ready"
