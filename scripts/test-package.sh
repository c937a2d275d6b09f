#!/usr/bin/env bash
# The Linux packaging suite (scripts/test.sh runs it): builds every artifact
# with scripts/package.sh, then checks them as an administrator would use
# them. The Debian package is installed into a fresh root with
# `dpkg --root`, `systemd-analyze verify` checks its units there, and the
# installed binary serves with the unit's arguments (as systemd would run
# it, StateDirectory given) and is activated; systemd-socket-activate hands
# it its KMS socket (LISTEN_FDS); the image's configuration is inspected and,
# where podman can start a container here, the image runs read-only and is
# activated from outside; the Kubernetes manifest is schema-checked offline.
# Prints "package: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAILED - $*"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
quiet() { "$@" >/dev/null; }
finish() { echo "package: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${ctr:-}" ] && podman rm -f "$ctr" >/dev/null 2>&1
  [ -n "${vol:-}" ] && podman volume rm -f "$vol" >/dev/null 2>&1
  [ -n "${loaded:-}" ] && podman rmi -f $(sed -n 's/^Loaded image[^:]*: //p' "$tmp/podman.log") >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# What the checks need beyond package.sh's own needs.
missing=()
for p in systemd curl python3-yaml python3-venv podman crun skopeo; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[test-package] apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
fi

# Free loopback ports, chosen by the kernel.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

if ! timeout 1500 scripts/package.sh 2>&1 | tee "$tmp/package.log"; then
  bad "scripts/package.sh builds every artifact"
  finish; exit
fi
ok "scripts/package.sh builds every artifact"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
bin=dist/kmsedge-$VERSION-x86_64-linux-musl
deb=dist/kmsedge_${VERSION}_amd64.deb
image=dist/kmsedge-image.tar
check "the binary's size is reported" grep -qE "static binary: .* \([0-9]+ bytes" "$tmp/package.log"
check "the binary is static (no interpreter, no shared libraries)" \
  bash -c "! readelf -l '$bin' | grep -q INTERP && ! readelf -d '$bin' | grep -q NEEDED"

# --- Debian package, installed into a fresh root.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/lib/systemd/system"
touch "$root/var/lib/dpkg/status"
check "dpkg --root installs the package into a fresh root" \
  dpkg --root="$root" --log=/dev/null --force-not-root -i "$deb"
check "the package declares its config file as a conffile" \
  bash -c "dpkg --root='$root' -s kmsedge | grep -q '/etc/kmsedge/kmsedge.toml'"
unit=$root/lib/systemd/system/kmsedge.service
check "the unit is hardened (DynamicUser, StateDirectory, read-only system, no new privileges, address families, syscall filter)" \
  bash -c "for k in 'DynamicUser=yes' 'StateDirectory=kmsedge' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' 'CapabilityBoundingSet='; do
    grep -qx \"\$k\" '$unit' || { echo \"missing \$k\"; exit 1; }; done"
# systemd-analyze resolves the units' dependencies (sysinit.target…) in
# the root, as on a system with systemd: give it systemd's own targets.
cp -a /lib/systemd/system/*.target /lib/systemd/system/*.slice "$root/lib/systemd/system/" 2>/dev/null
check "systemd-analyze verify accepts kmsedge.service and kmsedge.socket" \
  systemd-analyze verify --root="$root" kmsedge.service kmsedge.socket
exposure=$(systemd-analyze security --offline=yes --root="$root" kmsedge.service 2>/dev/null | sed -n 's/.*Overall exposure level for kmsedge.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure ${exposure:-?} (0 = most restricted, 10 = none)"
check "systemd-analyze security rates the unit OK or better (exposure < 2.5)" \
  awk -v e="${exposure:-10}" 'BEGIN { exit !(e < 2.5) }'
broken=$tmp/broken
cp -a "$root" "$broken"
sed -i 's|^ExecStart=/usr/bin/kmsedge |ExecStart=/usr/bin/kmsedge-missing |' "$broken/lib/systemd/system/kmsedge.service"
check "systemd-analyze verify refuses a unit whose binary is missing" \
  bash -c "! systemd-analyze verify --root='$broken' kmsedge.service 2>/dev/null"

# The installed binary, run with the unit's ExecStart (paths inside the
# root) and the StateDirectory systemd would give it; loopback ports.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a argv <<< "$exec_start"
argv=("${argv[@]/#\/usr\/bin\//$root/usr/bin/}")
argv=("${argv[@]/#\/etc\//$root/etc/}")
kms=$(port); http=$(port)
mkdir -p "$tmp/state"
STATE_DIRECTORY=$tmp/state "${argv[@]}" --listen "127.0.0.1:$kms" --http "127.0.0.1:$http" >"$tmp/serve.log" 2>&1 &
pids+=($!)
if wait_port "$kms"; then
  ok "the installed binary serves with the unit's arguments"
  check "it activates a Windows client (kmsedge activate)" \
    quiet "$root/usr/bin/kmsedge" activate "127.0.0.1:$kms" --product "Windows 10/11 Enterprise" --json --timeout 5
  check "kmsedge activate --check passes against it" "$root/usr/bin/kmsedge" activate --check "127.0.0.1:$kms" --timeout 5
  check "/healthz?deep=1 passes" bash -c "curl -sf 'http://127.0.0.1:$http/healthz?deep=1' | grep -q '^ok: activated'"
  check "the registry is in the StateDirectory" test -s "$tmp/state/registry.sqlite3"
else
  bad "the installed binary serves with the unit's arguments: $(tail -3 "$tmp/serve.log")"
fi

# Socket activation: systemd-socket-activate holds the port and passes it
# as fd 3 (LISTEN_FDS=1); the host's own listen address is port 1, which
# it could not bind, so an activation proves the passed socket is used.
sock=$(port)
mkdir -p "$tmp/state2"
systemd-socket-activate -l "127.0.0.1:$sock" -E STATE_DIRECTORY="$tmp/state2" \
  "$root/usr/bin/kmsedge" serve --config "$root/etc/kmsedge/kmsedge.toml" --listen 127.0.0.1:1 --http off >"$tmp/socket.log" 2>&1 &
pids+=($!)
wait_port "$sock"
check "a socket-activated host (LISTEN_FDS) answers on the passed socket" \
  "$root/usr/bin/kmsedge" activate --check "127.0.0.1:$sock" --timeout 10
# (the log thread writes every 20 ms)
check "and says so in its log" bash -c "for _ in \$(seq 1 50); do grep -q 'KMS sockets from socket activation' '$tmp/socket.log' && exit 0; sleep 0.1; done; exit 1"

# --- Container image.
# --raw: the Docker config itself (skopeo's own view drops HEALTHCHECK).
cfg=$(skopeo inspect --config --raw "docker-archive:$image" 2>"$tmp/skopeo.err")
check "the image is a from-scratch image with one layer" \
  bash -c "[ \"\$(skopeo inspect 'docker-archive:$image' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"Layers\"]))')\" = 1 ]"
check "the image runs as an unprivileged user, with /data its one volume and a HEALTHCHECK that activates" \
  python3 - "$cfg" <<'PY'
import json, sys
c = json.loads(sys.argv[1])["config"]
assert c["User"] == "65532:65532", c["User"]
assert list(c["Volumes"]) == ["/data"], c["Volumes"]
hc = c["Healthcheck"]["Test"]
assert hc[:5] == ["CMD", "/kmsedge", "activate", "--check", "127.0.0.1:1688"], hc
assert c["Entrypoint"] == ["/kmsedge"], c["Entrypoint"]
PY

# Run it where podman can start a container here. Its health checks run
# by hand (podman's timers need a running systemd, which a CI container
# lacks), so the interval is "disable".
if podman load -q -i "$image" >"$tmp/podman.log" 2>&1; then
  loaded=$(sed -n 's/^Loaded image[^:]*: //p' "$tmp/podman.log" | head -1)
  cport=$(port)
  vol=kmsedge-test-$$
  if ctr=$(podman run -d --read-only --tmpfs /tmp --health-interval disable -v "$vol:/data" -p "127.0.0.1:$cport:1688" "$loaded" 2>"$tmp/podman-run.err"); then
    wait_port "$cport"
    check "the container (read-only root) activates from outside" \
      "$root/usr/bin/kmsedge" activate "127.0.0.1:$cport" --product "Windows 10/11 Enterprise" --timeout 10
    check "its HEALTHCHECK passes (podman healthcheck run)" podman healthcheck run "$ctr"
  else
    echo "SKIP - podman cannot start a container here: $(grep -v 'Removing timer' "$tmp/podman-run.err" | head -1)"
    ctr=
  fi
else
  echo "SKIP - podman cannot load the image here: $(head -1 "$tmp/podman.log")"
fi

# --- Kubernetes manifest: the schema of its Kubernetes version, offline,
# from the pinned PyPI package kubernetes-validate (it ships the schemas).
KV_VERSION=1.37.0
venv=$HOME/.cache/kmsedge/kubernetes-validate
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KV_VERSION"; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
fi
manifest=packaging/kubernetes/kmsedge.yaml
check "the Kubernetes manifest passes kubernetes-validate --strict" \
  "$venv/bin/kubernetes-validate" --strict --quiet "$manifest"
sed 's/replicas: 1/replicas: one/' "$manifest" > "$tmp/bad.yaml"
check "and kubernetes-validate refuses a broken copy" \
  bash -c "! '$venv/bin/kubernetes-validate' --strict --quiet '$tmp/bad.yaml' >/dev/null 2>&1"
check "one replica, Recreate, a persistent volume, probes by the deep health check" python3 - "$manifest" <<'PY'
import sys, yaml
docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
spec = docs["Deployment"]["spec"]
assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
pod = spec["template"]["spec"]
claim = [v for v in pod["volumes"] if "persistentVolumeClaim" in v][0]["persistentVolumeClaim"]["claimName"]
assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
c = pod["containers"][0]
assert c["securityContext"]["readOnlyRootFilesystem"] is True
for probe in ("livenessProbe", "readinessProbe"):
    assert c[probe]["exec"]["command"][1:3] == ["activate", "--check"], c[probe]
PY

finish
