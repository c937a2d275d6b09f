#!/usr/bin/env bash
# Builds the edge Worker into build/worker/ (shim.mjs + index_bg.wasm) with
# worker-build, offline: worker-build would otherwise download
# wasm-bindgen, esbuild and wasm-opt at run time, and it reads these three
# variables (not PATH) to find local ones. `wrangler dev`/`deploy` run this
# through [build] in wrangler.toml; scripts/test-edge.sh runs it directly.
#
# A separate target directory (target/edge) keeps the wasm32 release
# artefacts from invalidating the native ones other builds share.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")}
export ESBUILD_BIN=${ESBUILD_BIN:-$root/node_modules/@esbuild/linux-x64/bin/esbuild}
export WASM_OPT_BIN=${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}
export CARGO_TARGET_DIR=${KMSEDGE_EDGE_TARGET_DIR:-$root/target/edge}
# Size over speed for the Worker only (the Worker's wasm is parsed on every
# cold start; KMS needs microseconds of CPU per request either way). These
# override [profile.release] for this build alone.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z}
export CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-fat}
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-1}
export CARGO_PROFILE_RELEASE_PANIC=${CARGO_PROFILE_RELEASE_PANIC:-abort}

for tool in "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "build-edge: missing $tool (run scripts/setup.sh)" >&2; exit 1; }
done
command -v worker-build >/dev/null || PATH=$HOME/.cargo/bin:$PATH

exec worker-build --release --no-default-features --features edge
