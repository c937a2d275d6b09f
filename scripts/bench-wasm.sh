#!/usr/bin/env bash
# Runs benches/activation.rs compiled to wasm32 under node, through
# wasm-bindgen-test's bundled criterion, so its figures compare directly
# with `cargo bench --bench activation` on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/wasm-bench}
exec cargo bench --target wasm32-unknown-unknown --no-default-features --features std --bench activation "$@"
