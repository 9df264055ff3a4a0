# OCI image-layout archives without a Docker daemon or registry, for `ctr images import`
# (test/cluster/node/images.sh, scripts/image.sh). Sourced; defines:
#   det_tar OUT_TAR DIR [PATHS…]          a reproducible tar (fixed mtimes, numeric owners, sorted)
#   make_image ARCHIVE NAME ROOTFS CONFIG  ROOTFS as a one-layer image named NAME; CONFIG is the
#                                          image config's "config" object (Entrypoint, Env, …)
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

