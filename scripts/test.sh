#!/usr/bin/env bash
# The one test command (README.md): installs what is missing, then runs every
# suite — Rust unit/integration/property tests natively, the core's tests as
# wasm in node, the core's bare no_std wasm build, and the page, edge and DNS
# suites where present. Prints one closing line: "total: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

bash scripts/setup.sh || { echo "setup failed"; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

log=$(mktemp)
failed_steps=()
step() {
    local name=$1; shift
    echo "=== $name: $*"
    if ! "$@" 2>&1 | tee -a "$log"; then
        failed_steps+=("$name")
    fi
}

step "rust tests" cargo test --release --all-targets --no-fail-fast
step "core builds bare for wasm32 (no_std, no alloc)" \
    cargo build --lib --release --no-default-features --target wasm32-unknown-unknown
# The core's unit tests and the protocol suites, compiled to wasm32 and run
# in node by wasm-bindgen-test-runner (what `wasm-pack test --node` does,
# restricted to the suites that are about the core).
step "core tests as wasm in node" \
    env CARGO_TARGET_DIR=target/wasm-test \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --release --target wasm32-unknown-unknown --no-default-features --features std \
    --lib --test vectors --test worked_examples --test malformed
for suite in scripts/test-web.sh scripts/test-edge.sh scripts/test-dns.sh scripts/test-dns-ad.sh scripts/test-package.sh scripts/test-fuzz.sh scripts/test-windows.sh; do
    [ -x "$suite" ] && step "$(basename "$suite" .sh)" "$suite"
done

# Sum the counts every runner printed (cargo: "test result: ok. N passed;
# M failed", node --test: "# pass N" / "# fail M").
passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
passed=$((passed + $(grep -oE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
failed=$((failed + $(grep -oE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
rm -f "$log"
if [ ${#failed_steps[@]} -gt 0 ]; then
    echo "failed steps: ${failed_steps[*]}"
    [ "$failed" -gt 0 ] || failed=${#failed_steps[@]}
fi
echo "total: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ]
