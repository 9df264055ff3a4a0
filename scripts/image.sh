#!/usr/bin/env bash
# Builds the Multus-TS container image as an OCI image-layout archive without a Docker daemon or a
# registry (this machine has neither), from dist/bin (npm run build first). The local node imports it
# with `ctr images import` (test/cluster/node/node.sh, MULTUS_TS_NODE_MODE=none); a real registry gets
# the same image from the Dockerfile (docker build / buildah / kaniko).
#
#   bash scripts/image.sh [OUT_ARCHIVE]   default dist/image/multus-ts.oci.tar; prints the archive path
#
# What is in it (the Dockerfile's runtime stage has the same files, from distroless/cc-debian12):
#   /usr/local/bin/multus          the multi-call SEA; multus-daemon, multus-install and passthru are
#                                  hard links to it (one copy in the layer)
#   /usr/local/bin/multus-shim     static C
#   /usr/local/bin/multus-native.node   the Node-API lock module the SEA loads from its directory
#   /usr/bin/flock, /usr/sbin/chroot   util-linux flock (the locks' fallback), coreutils chroot (the
#                                  daemon's chrootDir: delegates run with the host's tools)
#   glibc, libstdc++, libgcc_s     what those need (ldd), from this Debian 12 machine
# Image name: ghcr.io/multus-ts/multus-ts:<package.json version> (MULTUS_TS_IMAGE overrides it).
set -euo pipefail
shopt -s inherit_errexit

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo_root/package.json" | head -n 1)"
image="${MULTUS_TS_IMAGE:-ghcr.io/multus-ts/multus-ts:$version}"
out="${1:-$repo_root/dist/image/multus-ts.oci.tar}"
readonly repo_root version image out

die() { printf 'image.sh: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=lib/oci.sh
source "$repo_root/scripts/lib/oci.sh"

bin="$repo_root/dist/bin"
for exe in multus multus-shim multus-native.node multus-daemon multus-install passthru; do
  [[ -x "$bin/$exe" ]] || die "$bin/$exe not found: npm run build"
done
for tool in /usr/bin/flock /usr/sbin/chroot; do
  [[ -x "$tool" ]] || die "$tool not found: apt-get install -y util-linux coreutils"
done

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/usr/lib/x86_64-linux-gnu" "$rootfs/usr/lib64" \
  "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/run"
chmod 1777 "$rootfs/tmp"
# Debian's merged /usr: /lib and /lib64 are links into /usr.
ln -s usr/lib "$rootfs/lib"
ln -s usr/lib64 "$rootfs/lib64"
# The runtime names sandbox netns /var/run/netns/…; /run/netns is the host's, mounted by the DaemonSet.
mkdir -p "$rootfs/var"
ln -s ../run "$rootfs/var/run"
cp "$bin/multus" "$rootfs/usr/local/bin/multus"
for alias in multus-daemon multus-install passthru; do ln "$rootfs/usr/local/bin/multus" "$rootfs/usr/local/bin/$alias"; done
cp "$bin/multus-shim" "$rootfs/usr/local/bin/multus-shim"
# The lock module the SEA loads from its own directory (src/util/file-lock.ts).
cp "$bin/multus-native.node" "$rootfs/usr/local/bin/multus-native.node"
cp /usr/bin/flock "$rootfs/usr/bin/flock"
cp /usr/sbin/chroot "$rootfs/usr/sbin/chroot"
# The shared libraries they load, dereferenced, at their /usr path.
while read -r lib; do
  case "$lib" in
    /lib64/* | /usr/lib64/*) dest="$rootfs/usr/lib64/${lib##*/}" ;;
    /lib/* | /usr/lib/*) rel="${lib#/usr}"; rel="${rel#/lib/}"; dest="$rootfs/usr/lib/$rel" ;;
    *) die "unexpected library path $lib" ;;
  esac
  mkdir -p "$(dirname "$dest")"
  cp -L "$lib" "$dest"
done < <(ldd "$bin/multus" /usr/bin/flock /usr/sbin/chroot | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)
printf 'root:x:0:0:root:/root:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"

mkdir -p "$(dirname "$out")"
make_image "$out" "$image" "$rootfs" \
  '{"Env":["PATH=/usr/local/bin:/usr/sbin:/usr/bin"],"Cmd":["/usr/local/bin/multus-daemon"],"WorkingDir":"/","Labels":{"org.opencontainers.image.source":"https://github.com/multus-ts/multus-ts","org.opencontainers.image.version":"'"$version"'"}}'
printf 'image.sh: %s (%s MiB) is %s\n' "$out" "$(($(stat -c %s "$out") / 1048576))" "$image" >&2
printf '%s\n' "$out"
