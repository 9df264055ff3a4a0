#!/usr/bin/env bash
# Whereabouts (the cluster-wide IPAM plugin most multi-node Multus set-ups use) as its users install
# it, for the two-node e2e: its executables built from the Go module proxy at a pinned release, and
# its container image built here as an OCI image-layout archive (no registry, no Docker daemon), with
# what its Dockerfile puts in an Alpine image: /whereabouts, /ip-control-loop, /install-cni.sh,
# /lib.sh and /token-watcher.sh from the module, and Debian's busybox-static as the shell and tools
# those scripts call. Its DaemonSet, RBAC and CRDs are applied from the module unchanged but for
# the image's tag (test/e2e/two-nodes-scenarios.ts).
#
#   whereabouts.sh build   prints IMAGE=<archive>, IMAGE_NAME=<name>, MODULE_DIR=<the module's source>
#
# Cached in ${MULTUS_TS_CACHE_DIR:-~/.cache/multus-ts}/whereabouts-<version>/ (the executables: about
# 70 s on two cores with the Go modules downloaded; the image: a few seconds; both reused later).
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="github.com/k8snetworkplumbingwg/whereabouts"
version="v0.9.2"
cache_root="${MULTUS_TS_CACHE_DIR:-${HOME:-/root}/.cache/multus-ts}"
wa_dir="$cache_root/whereabouts-$version"
image_name="ghcr.io/k8snetworkplumbingwg/whereabouts:$version"
readonly here module version cache_root wa_dir image_name

log() { printf 'whereabouts.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=../../../scripts/lib/oci.sh
source "$here/../../../scripts/lib/oci.sh"
# shellcheck source=go-module.sh
source "$here/go-module.sh"

# The image's root: busybox as the shell and tools its scripts call, its executables and scripts.
fill_root() {
  local rootfs="$1" src="$2" applet
  [[ -x /bin/busybox ]] || die "/bin/busybox not found: apt-get install -y busybox-static"
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/host"
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  while read -r applet; do
    [[ "$applet" == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
  done < <(/bin/busybox --list)
  cp "$wa_dir/bin/whereabouts" "$wa_dir/bin/ip-control-loop" "$rootfs/"
  install -m 0755 "$src/script/install-cni.sh" "$src/script/lib.sh" "$src/script/token-watcher.sh" "$rootfs/"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
}

case "${1:-}" in
  build)
    src="$(module_dir "$module" "$version")"
    [[ -d "$src" ]] || die "no source directory for $module@$version"
    # As its hack/build-go.sh does: static, the version stamped into pkg/version.
    build_go_executables "$src" "$wa_dir/bin" "-s -w -X $module/pkg/version.Version=$version -X $module/pkg/version.ReleaseStatus=released" \
      ./cmd/=whereabouts ./cmd/controlloop/=ip-control-loop
    fill() { fill_root "$1" "$src"; }
    archive="$(cached_image "$wa_dir" whereabouts "$image_name" '{"Env":["PATH=/bin"],"Cmd":["/install-cni.sh"],"WorkingDir":"/"}' fill \
      "${BASH_SOURCE[0]}" "$here/go-module.sh" "$here/../../../scripts/lib/oci.sh" "$wa_dir/bin/whereabouts" "$wa_dir/bin/ip-control-loop")"
    printf 'IMAGE=%s\nIMAGE_NAME=%s\nMODULE_DIR=%s\n' "$archive" "$image_name" "$src"
    ;;
  *) echo "usage: $0 build" >&2; exit 2 ;;
esac
