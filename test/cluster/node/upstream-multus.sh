#!/usr/bin/env bash
# Upstream Go Multus's thick image, for the upgrade e2e (test/e2e/upgrade-scenarios.ts): its
# executables built from the Go module proxy at the release the project compares with, packed as an
# OCI image-layout archive (no registry, no Docker daemon) with what its images/Dockerfile.thick
# puts there: /usr/src/multus-cni/bin/{multus-daemon,multus-shim,multus,install_multus,passthru}
# and the LICENSE. (Of its base image, debian:stable-slim, these static executables need only the
# /var/run -> /run link: the daemon chroots into the host's root with a system call, not a program.) It is installed
# with its own deployments/multus-daemonset-thick.yml, the image name pinned.
#
#   upstream-multus.sh build   prints IMAGE=<archive>, IMAGE_NAME=<name>, MODULE_DIR=<the module's source>
#
# Cached in ${MULTUS_TS_CACHE_DIR:-~/.cache/multus-ts}/upstream-multus-image-<version>/.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="gopkg.in/k8snetworkplumbingwg/multus-cni.v4"
version="v4.3.0"
cache_root="${MULTUS_TS_CACHE_DIR:-${HOME:-/root}/.cache/multus-ts}"
um_dir="$cache_root/upstream-multus-image-$version"
image_name="ghcr.io/k8snetworkplumbingwg/multus-cni:$version-thick"
readonly here module version cache_root um_dir image_name

log() { printf 'upstream-multus.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=../../../scripts/lib/oci.sh
source "$here/../../../scripts/lib/oci.sh"
# shellcheck source=go-module.sh
source "$here/go-module.sh"

# The image's root: the executables where its Dockerfile.thick puts them, and the LICENSE.
fill_root() {
  local rootfs="$1" src="$2" exe
  mkdir -p "$rootfs/usr/src/multus-cni/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  # Debian's /var/run -> /run: the runtime names sandbox netns /var/run/netns/…, the DaemonSet
  # mounts the host's /run/netns.
  mkdir -p "$rootfs/var" "$rootfs/run"
  ln -s ../run "$rootfs/var/run"
  for exe in multus-daemon multus-shim multus install_multus passthru; do cp "$um_dir/bin/$exe" "$rootfs/usr/src/multus-cni/bin/$exe"; done
  cp "$src/LICENSE" "$rootfs/usr/src/multus-cni/LICENSE"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$rootfs/etc/passwd"
}

case "${1:-}" in
  build)
    src="$(module_dir "$module" "$version")"
    [[ -d "$src" ]] || die "no source directory for $module@$version"
    # As its hack/build-go.sh does: static, the version stamped in.
    build_go_executables "$src" "$um_dir/bin" "-s -w -X $module/pkg/multus.version=$version" \
      ./cmd/multus-daemon=multus-daemon ./cmd/multus-shim=multus-shim ./cmd/multus=multus \
      ./cmd/install_multus=install_multus ./cmd/passthru-cni=passthru
    fill() { fill_root "$1" "$src"; }
    archive="$(cached_image "$um_dir" multus-cni "$image_name" '{"Entrypoint":["/usr/src/multus-cni/bin/multus-daemon"],"WorkingDir":"/"}' fill \
      "${BASH_SOURCE[0]}" "$here/go-module.sh" "$here/../../../scripts/lib/oci.sh" "$um_dir"/bin/{multus-daemon,multus-shim,multus,install_multus,passthru})"
    printf 'IMAGE=%s\nIMAGE_NAME=%s\nMODULE_DIR=%s\n' "$archive" "$image_name" "$src"
    ;;
  *) echo "usage: $0 build" >&2; exit 2 ;;
esac
