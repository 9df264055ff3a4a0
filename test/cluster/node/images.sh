#!/usr/bin/env bash
# Builds the two container images the test node needs, without any registry, as OCI image-layout
# archives that `ctr images import` reads:
#
#   registry.k8s.io/pause:3.10   a static pause binary (pause.c, gcc -static)
#   docker.io/library/busybox:mt Debian's busybox-static with one symlink per applet (sh, ip, ping…)
#
#   images.sh OUT_DIR    writes OUT_DIR/pause.oci.tar and OUT_DIR/busybox.oci.tar (reused when present)
#
# The archives are deterministic (fixed mtimes, numeric owners, sorted entries), so a rebuild gives
# the same digests. Needs: gcc + libc6-dev (static libc), busybox-static, sha256sum, tar.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: images.sh OUT_DIR}"
readonly here out

PAUSE_IMAGE="registry.k8s.io/pause:3.10"
BUSYBOX_IMAGE="docker.io/library/busybox:mt"
BUSYBOX_BIN="/bin/busybox"
readonly PAUSE_IMAGE BUSYBOX_IMAGE BUSYBOX_BIN

die() { printf 'images.sh: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=../../../scripts/lib/oci.sh
source "$here/../../../scripts/lib/oci.sh"

build_pause() {
  command -v gcc >/dev/null || die "gcc not found: apt-get install -y gcc libc6-dev"
  local rootfs
  rootfs="$(mktemp -d)"
  gcc -static -O2 -s -o "$rootfs/pause" "$here/pause.c" || die "gcc -static failed (is libc6-dev installed?)"
  make_image "$out/pause.oci.tar" "$PAUSE_IMAGE" "$rootfs" '{"Entrypoint":["/pause"],"WorkingDir":"/"}'
  rm -rf "$rootfs"
}

build_busybox() {
  if ! { [[ -x "$BUSYBOX_BIN" ]] && "$BUSYBOX_BIN" --list | grep -qx ip; }; then
    die "$BUSYBOX_BIN with the ip applet not found: apt-get install -y busybox-static"
  fi
  local rootfs applet
  rootfs="$(mktemp -d)"
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
  chmod 1777 "$rootfs/tmp"
  cp "$BUSYBOX_BIN" "$rootfs/bin/busybox"
  while read -r applet; do
    [[ "$applet" == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
  done < <("$rootfs/bin/busybox" --list)
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
  make_image "$out/busybox.oci.tar" "$BUSYBOX_IMAGE" "$rootfs" \
    '{"Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"/"}'
  rm -rf "$rootfs"
}

mkdir -p "$out"
[[ -s "$out/pause.oci.tar" ]] || build_pause
[[ -s "$out/busybox.oci.tar" ]] || build_busybox
printf '%s\n' "$out/pause.oci.tar" "$out/busybox.oci.tar"
