#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine, as root: Debian packages, the pinned Node 24 toolchain,
# npm dependencies and the build. Sourced by scripts/test.sh and scripts/demo.sh; safe to run again.
set -euo pipefail

MULTUS_TS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_VERSION=24.21.0
MULTUS_TS_CACHE=${MULTUS_TS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multus-ts}
NODE_DIR="$MULTUS_TS_CACHE/node-$NODE_VERSION"
APT_PACKAGES=(containernetworking-plugins iproute2 iptables iputils-ping etcd-server openssl jq kmod util-linux procps containerd runc busybox-static gcc libc6-dev curl clang libclang-rt-14-dev llvm-14 strace)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "Multus-TS set-up needs root (network namespaces, CNI plugins, apt-get)." >&2
  exit 1
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present (${APT_PACKAGES[*]})"
fi

# Node 24 LTS from the npm registry's `node` package, cached outside the work tree by version. npm
# itself then runs under Node 24, so the project's engines field (engine-strict) is honoured.
if [ ! -x "$NODE_DIR/node_modules/.bin/node" ]; then
  say "installing Node $NODE_VERSION into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  echo '{"private":true}' >"$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >/dev/null)
fi
export PATH="$NODE_DIR/node_modules/.bin:$PATH"
say "node $(node --version) from $NODE_DIR"

cd "$MULTUS_TS_ROOT"
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.multus-ts-lock 2>/dev/null || true)" != "$lock_sum" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >node_modules/.multus-ts-lock
else
  say "npm dependencies up to date"
fi

say "building dist/bin (esbuild bundles + Node single executables)"
node scripts/build.ts
