#!/usr/bin/env bash
# Builds every Linux artifact of kmsedge from a clean checkout into dist/:
#   dist/kmsedge-VERSION-x86_64-linux-musl   static binary (musl), stripped
#   dist/kmsedge_VERSION_amd64.deb           Debian package: the binary, the
#                                            hardened kmsedge.service, the
#                                            optional kmsedge.socket, config
#   dist/kmsedge-image.tar                   container image from scratch
#                                            (Docker archive, with HEALTHCHECK)
#   dist/kmsedge-VERSION-x86_64-windows.zip  kmsedge.exe (scripts/package-windows.sh)
# and prints each one's size. Installs what it lacks (the musl target,
# musl-tools, buildah). aarch64 is not built: Debian has no aarch64 musl
# C cross toolchain for the C in ring and the bundled SQLite.
# Usage: scripts/package.sh [--no-image] [--no-windows]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

image=1
windows=1
for a in "$@"; do
  case $a in
    --no-image) image=0 ;;
    --no-windows) windows=0 ;;
    *) echo "package.sh: unknown argument $a (use --no-image, --no-windows)" >&2; exit 2 ;;
  esac
done

log() { printf '[package] %s\n' "$*"; }
apt_need() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
TARGET=x86_64-unknown-linux-musl
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DIST=dist
mkdir -p "$DIST"
size() { printf '%s (%s bytes, %s MiB)' "$1" "$(stat -c %s "$1")" "$(awk -v b="$(stat -c %s "$1")" 'BEGIN{printf "%.1f", b/1048576}')"; }

# 1. The static binary.
apt_need musl-tools binutils
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
log "cargo build --release --target $TARGET"
cargo build --release --locked --target "$TARGET" --bin kmsedge
bin=$DIST/kmsedge-$VERSION-x86_64-linux-musl
cp "$TARGET_DIR/$TARGET/release/kmsedge" "$bin"
strip "$bin"
if readelf -l "$bin" | grep -q INTERP || readelf -d "$bin" 2>/dev/null | grep -q NEEDED; then
  echo "package.sh: $bin is not static" >&2; exit 1
fi
"$bin" --version >/dev/null
log "static binary: $(size "$bin")"

# 2. The Debian package, assembled with dpkg-deb (no maintainer scripts:
# it installs into any root, and systemctl enable is the administrator's).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/kmsedge
install -Dm755 "$bin" "$root/usr/bin/kmsedge"
install -Dm644 packaging/systemd/kmsedge.service "$root/lib/systemd/system/kmsedge.service"
install -Dm644 packaging/systemd/kmsedge.socket "$root/lib/systemd/system/kmsedge.socket"
install -Dm644 packaging/debian/kmsedge.toml "$root/etc/kmsedge/kmsedge.toml"
install -Dm644 packaging/debian/copyright "$root/usr/share/doc/kmsedge/copyright"
install -Dm644 README.md "$root/usr/share/doc/kmsedge/README.md"
install -Dm644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/amd64/" -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)/" \
  packaging/debian/control > "$root/DEBIAN/control"
deb=$DIST/kmsedge_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
log "Debian package: $(size "$deb")"

# 3. The container image, from scratch: the static binary, an unprivileged
# user, /data the one volume (the root stays read-only), a HEALTHCHECK
# that activates against the container itself. Docker format, as the OCI
# image format has no HEALTHCHECK. buildah keeps its own storage under
# ~/.cache/kmsedge (vfs: works without overlay mounts or fuse).
if [ $image = 1 ]; then
  apt_need buildah
  store=$HOME/.cache/kmsedge/containers
  export BUILDAH_FORMAT=docker
  bah() { buildah --root "$store/storage" --runroot "$store/run" --storage-driver vfs "$@"; }
  ref=localhost/kmsedge:$VERSION
  ctr=$(bah from --quiet scratch)
  empty=$stage/data
  mkdir -p "$empty"
  bah copy --quiet --chown 0:0 --chmod 0755 "$ctr" "$bin" /kmsedge
  bah copy --quiet --chown 65532:65532 --chmod 0700 "$ctr" "$empty" /data
  bah config \
    --user 65532:65532 \
    --workingdir /data \
    --volume /data \
    --port 1688/tcp --port 8080/tcp \
    --entrypoint '["/kmsedge"]' \
    --cmd '["serve", "--data", "/data", "--listen", "0.0.0.0:1688", "--http", "0.0.0.0:8080"]' \
    --healthcheck 'CMD /kmsedge activate --check 127.0.0.1:1688 --timeout 5' \
    --healthcheck-interval 30s --healthcheck-timeout 10s --healthcheck-retries 3 --healthcheck-start-period 10s \
    --label org.opencontainers.image.title=kmsedge \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.description="Microsoft KMS host (volume activation, TCP 1688)" \
    "$ctr"
  bah commit --quiet --format docker --rm "$ctr" "$ref" >/dev/null
  rm -f "$DIST/kmsedge-image.tar"
  bah push --quiet "$ref" "docker-archive:$DIST/kmsedge-image.tar:kmsedge:$VERSION"
  # The archive is the artifact: keep the build storage from growing.
  bah rmi --force "$ref" >/dev/null
  bah rmi --prune >/dev/null 2>&1 || true
  log "container image kmsedge:$VERSION: $(size "$DIST/kmsedge-image.tar")"
fi

# The Windows build (mingw-w64 cross-compile; its own script so that
# scripts/test-windows.sh can build it alone).
if [ "$windows" = 1 ]; then
  exe=$(scripts/package-windows.sh | tail -n 1)
  zip=$(dirname "$(dirname "$exe")")/$(basename "$(dirname "$exe")").zip
  cp -f "$zip" "$DIST/"
  log "windows: $(size "$DIST/$(basename "$zip")")"
fi
