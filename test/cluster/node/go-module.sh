# shellcheck shell=bash
# Executables of a Go module from the Go module proxy, built once into a cache keyed by version
# (node/whereabouts.sh, node/upstream-multus.sh), and their images. Sourced after scripts/lib/oci.sh;
# needs `log` and `die`. Defines:
#   module_dir MODULE VERSION             prints the module's source directory (go mod download)
#   build_go_executables SRC OUT LDFLAGS PKG=NAME…
#                                         static builds of SRC's packages into OUT/NAME, unless all
#                                         are there; one build per OUT at a time; a half-built
#                                         executable never appears under its name
#   cached_image DIR PREFIX NAME CONFIG FILL KEY_FILE…   (below)

module_dir() {
  command -v go >/dev/null || die "go not found on PATH; it is needed once to build $1 $2"
  local json
  json="$(cd /tmp && GOFLAGS=-mod=mod GOWORK=off go mod download -json "$1@$2")" || die "go mod download $1@$2 failed: $json"
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json"
}

build_go_executables() {
  local src="$1" out="$2" ldflags="$3"; shift 3
  local spec missing=0
  for spec in "$@"; do [[ -x "$out/${spec#*=}" ]] || missing=1; done
  ((missing)) || return 0
  mkdir -p "$out"
  exec 8>"$out/.build.lock"
  flock -w 1800 8 || die "could not lock $out/.build.lock"
  missing=0
  for spec in "$@"; do [[ -x "$out/${spec#*=}" ]] || missing=1; done
  if ((missing)); then
    local tmp started=$SECONDS
    tmp="$(mktemp -d "$out/.build.XXXXXX")"
    log "building ${*#*=} from $src (log: $out/build.log)"
    : >"$out/build.log"
    for spec in "$@"; do
      if ! (cd "$src" && GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/${spec#*=}" "${spec%%=*}") >>"$out/build.log" 2>&1; then
        rm -rf "$tmp"
        tail -n 30 "$out/build.log" >&2
        die "go build ${spec%%=*} failed (log: $out/build.log)"
      fi
    done
    for spec in "$@"; do mv -f "$tmp/${spec#*=}" "$out/${spec#*=}"; done
    rm -rf "$tmp"
    log "built them in $((SECONDS - started)) s into $out"
  fi
  exec 8>&-
}

# cached_image DIR PREFIX NAME CONFIG FILL KEY_FILE…
#   prints DIR/PREFIX-<key>.oci.tar, the key being the KEY_FILEs' sha256 (the recipe and what it
#   packs, so an edit rebuilds); when missing, builds it: FILL ROOTFS (the caller's function) fills a
#   fresh root, make_image (scripts/lib/oci.sh) packs it as NAME with CONFIG; an older key's goes
cached_image() {
  local dir="$1" prefix="$2" name="$3" config="$4" fill="$5"; shift 5
  local key archive rootfs
  key="$(cat "$@" | sha256sum | cut -c1-12)"
  archive="$dir/$prefix-$key.oci.tar"
  if [[ ! -s "$archive" ]]; then
    rm -f "$dir/$prefix"-*.oci.tar
    rootfs="$(mktemp -d)"
    "$fill" "$rootfs"
    make_image "$archive.tmp" "$name" "$rootfs" "$config"
    rm -rf "$rootfs"
    mv -f "$archive.tmp" "$archive"
  fi
  printf '%s\n' "$archive"
}
