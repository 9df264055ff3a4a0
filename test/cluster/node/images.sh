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

det_tar() { # det_tar OUT_TAR DIR [PATHS…]: a reproducible tar of DIR's entries
  local tarball="$1" dir="$2"; shift 2
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$dir" -cf "$tarball" "$@"
}

sha() { sha256sum "$1" | awk '{ print $1 }'; }

# put_blob LAYOUT FILE: moves FILE into LAYOUT/blobs/sha256/<digest>, prints the digest
put_blob() {
  local layout="$1" file="$2" digest
  digest="$(sha "$file")"
  mv -f "$file" "$layout/blobs/sha256/$digest"
  printf '%s\n' "$digest"
}

# make_image ARCHIVE NAME ROOTFS_DIR CONFIG_JSON_FRAGMENT: packs ROOTFS_DIR as a one-layer image
make_image() {
  local archive="$1" name="$2" rootfs="$3" exec_config="$4"
  local work layout layer_digest layer_size config_digest config_size manifest_digest manifest_size
  work="$(mktemp -d)"
  layout="$work/layout"
  mkdir -p "$layout/blobs/sha256"
  det_tar "$work/layer.tar" "$rootfs" .
  layer_size="$(stat -c %s "$work/layer.tar")"
  layer_digest="$(put_blob "$layout" "$work/layer.tar")"
  # Uncompressed layer: its diff_id is its digest.
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$exec_config" "$layer_digest" >"$work/config.json"
  config_size="$(stat -c %s "$work/config.json")"
  config_digest="$(put_blob "$layout" "$work/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  manifest_size="$(stat -c %s "$work/manifest.json")"
  manifest_digest="$(put_blob "$layout" "$work/manifest.json")"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  # io.containerd.image.name is what `ctr images import` names the image after.
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$name" "${name##*:}" >"$layout/index.json"
  det_tar "$archive.tmp" "$layout" oci-layout index.json blobs
  mv -f "$archive.tmp" "$archive"
  rm -rf "$work"
}

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
