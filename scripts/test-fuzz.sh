#!/usr/bin/env bash
# Fuzzing in the test command: every cargo-fuzz target in fuzz/ (engine,
# client, http_api, config) runs for a bounded time (FUZZ_SECS, 60 s each)
# from its committed seed corpus, fuzz/corpus/<target>; a crash, a panic or
# a hang fails it. New inputs go to a scratch directory, never into the
# committed corpus. Prints "fuzz: N passed, M failed" for test.sh.
#
# cargo-fuzz is installed once (pinned, under ~/.cache/kmsedge). It passes
# nightly-only flags to rustc; the one stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1. No sanitizer: the code is memory-safe Rust
# (forbid(unsafe_code) in the core), so libFuzzer's coverage plus Rust's own
# checks find what matters, and the build stays a few minutes cold.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${FUZZ_SECS:-60}
version=0.13.1
cache="$HOME/.cache/kmsedge/cargo-fuzz"
export PATH="$cache/bin:$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$root/target/fuzz}"
export CARGO_TERM_COLOR=never

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $version" ]; then
    echo "installing cargo-fuzz $version into $cache"
    if ! CARGO_TARGET_DIR="$cache/build" timeout 900 cargo install --locked --quiet cargo-fuzz --version "$version" --root "$cache"; then
        echo "fuzz: 0 passed, 1 failed (cannot install cargo-fuzz $version)"
        exit 1
    fi
    rm -rf "$cache/build"
fi

cd fuzz
if ! timeout 1800 cargo fuzz build -s none; then
    echo "fuzz: 0 passed, 1 failed (the fuzz targets do not build)"
    exit 1
fi
passed=0
failed=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    # -timeout: one input taking 20 s is a hang; the outer timeout bounds
    # the whole run whatever happens.
    if timeout $((secs + 120)) cargo fuzz run -s none "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        passed=$((passed + 1))
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
        echo "fuzz $target: ok, ${runs:-?} executions in ${secs} s, no crash"
    else
        failed=$((failed + 1))
        echo "fuzz $target: FAILED; the end of its log:"
        tail -n 40 "$log"
        # Keep the crashing input where a developer finds it.
        ls artifacts/"$target" 2>/dev/null | sed "s|^|  fuzz/artifacts/$target/|"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
