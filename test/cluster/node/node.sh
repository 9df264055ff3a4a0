#!/usr/bin/env bash
# A real Kubernetes node for e2e tests, beside the control plane of ../cluster.sh: containerd +
# runc + kubelet, registered as node `localhost` and Ready, with dist/bin/multus in front of a
# bridge + host-local primary network. Everything of the node that has a network runs inside one
# dedicated network namespace (the "node netns"), so CNI plugins, bridges, veths and iptables rules
# never touch the root namespace; deleting the node netns removes all of them.
#
#   node.sh up       start the node (or reuse a healthy one); the control plane must be up
#   node.sh down     stop what `up` started (recorded PIDs only), clean up, remove $STATE/node
#   node.sh status   exit 0 if the node is Ready, 3 if nothing runs, 1 if broken
#
# Normally reached through `cluster.sh node-up|node-down|node-status`, which share its environment
# (MULTUS_TS_CLUSTER_DIR, MULTUS_TS_APISERVER_PORT, MULTUS_TS_CACHE_DIR) and add:
#   MULTUS_TS_KUBELET_PORT   kubelet's port, in the node netns and forwarded on the root
#                            namespace's 127.0.0.1 for the apiserver (default 10250)
#   MULTUS_TS_MULTUS_BIN     the multus executable the node's CNI config runs (default dist/bin/multus)
#   MULTUS_TS_NODE_MODE      "thin" (default: 00-multus.conf runs dist/bin/multus) or "thick": the node
#                            runs dist/bin/multus-daemon (in the node netns, socket $STATE/node/run/multus),
#                            which writes 00-multus.conflist itself; containerd execs dist/bin/multus-shim
#                            or "none": no Multus at all, only the cluster network (bridge conflist) and
#                            the reference plugins in /opt/cni/bin, and the Multus-TS image imported, for
#                            installing Multus the way users do (kubectl apply -k deploy/thick)
#   MULTUS_TS_NODE_COMPONENTS  extra control-plane components to run: "kube-scheduler
#                            kube-controller-manager" (default both; "" for none)
#   MULTUS_TS_NODE_NUMBER    1 (default) or 2…9: a further node `node-<n>` of the same control plane
#                            (state $STATE/node-<n>, node IP 192.0.2.<9+n>, cluster network
#                            10.244.<n-1>.0/24, no control-plane components), whose eth0 joins the
#                            first node's "lan" bridge; the first node must be up, and its `down`
#                            stops the others first. The apiserver reaches every kubelet through the
#                            control plane's egress proxy ($STATE/kubelets/<node name>, cluster.sh).
#
# How the apiserver reaches a kubelet: kubelet refuses a loopback --node-ip, so the node's InternalIP
# is 192.0.2.10 on the node netns's `lo`, unreachable from the root namespace. The apiserver sends
# its kubelet connections (logs, exec) to the control plane's egress proxy (cluster.sh), which
# carries them by the node's name over a unix socket to a forwarder (forward.ts) in the node netns
# and on to kubelet's 127.0.0.1:<port>. The first node is also called `localhost`, which resolves to
# 127.0.0.1 in the root namespace, where a forwarder listens too (control planes of older harness
# versions dial the node directly). The reverse forwarder gives the node netns the API at the
# same 127.0.0.1:<apiserver port> as the root namespace, so the harness kubeconfigs work unchanged,
# and listens on the `kubernetes` Service's ClusterIP (10.96.0.1:443, on the node netns's `lo`) for
# in-cluster clients (a DaemonSet's pods), which kube-proxy would serve on a real node.
#
# The node also has its own mount namespace ($node/ns/mnt; containerd, kubelet and everything they
# start run in it): /etc, /opt and /var/lib are overlays whose writes land in $node, /etc/cni/net.d is
# $node/net.d, /opt/cni/bin is $node/cni-bin, /var/lib/cni is $node/var-lib-cni, /run is a tmpfs
# (with the machine's /run/netns). So a DaemonSet's hostPath /etc/cni/net.d or /opt/cni/bin is the
# node's, as on a real node, and the machine's own /etc, /opt, /var/lib/cni and /run stay untouched.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
state="${MULTUS_TS_CLUSTER_DIR:-/tmp/multus-ts-cluster}"
state="${state%/}"
cache_root="${MULTUS_TS_CACHE_DIR:-${HOME:-/root}/.cache/multus-ts}"
apiserver_port="${MULTUS_TS_APISERVER_PORT:-16443}"
kubelet_port="${MULTUS_TS_KUBELET_PORT:-10250}"
multus_bin="${MULTUS_TS_MULTUS_BIN:-$repo_root/dist/bin/multus}"
mode="${MULTUS_TS_NODE_MODE:-thin}"
number="${MULTUS_TS_NODE_NUMBER:-1}"
[[ "$number" =~ ^[1-9]$ ]] || { printf 'node.sh: error: MULTUS_TS_NODE_NUMBER must be 1 to 9, not %s\n' "$number" >&2; exit 2; }
if ((number == 1)); then
  components="${MULTUS_TS_NODE_COMPONENTS-kube-scheduler kube-controller-manager}"
else
  components="" # the control plane's extras run beside the first node only
fi
k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$here/../k8s-build/go.mod")"
bin_dir="$cache_root/k8s-$k8s_version/bin"
service_ip="10.96.0.1"
pki="$state/pki"
# One node netns and one cgroup root per state dir and node, so two control planes can each have
# nodes. The "lan" namespace (the nodes' shared L2 segment) belongs to the first node.
tag="$(printf '%s' "$state" | sha256sum | cut -c1-8)"
lan_netns="mt-lan-$tag"
if ((number == 1)); then
  node_name="localhost"
  node="$state/node"
  netns="mt-node-$tag"
  cgroup_name="mt-node-$tag"
else
  node_name="node-$number"
  node="$state/node-$number"
  netns="mt-node$number-$tag"
  cgroup_name="mt-node$number-$tag"
fi
node_ip="192.0.2.$((9 + number))"
# Each node's cluster network has a range of its own, as a real CNI's per-node podCIDR.
pod_subnet="10.244.$((number - 1)).0/24"
node_bin=""
readonly here repo_root state cache_root apiserver_port kubelet_port multus_bin mode number components k8s_version \
  bin_dir node_name node_ip service_ip node pki tag netns lan_netns cgroup_name pod_subnet
# kubelet sets these kernel-wide sysctls (not per namespace); `down` puts the old values back.
sysctls=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

log() { printf 'node.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

admin_kubectl() { kubectl --kubeconfig "$state/admin.kubeconfig" --request-timeout=30s "$@"; }
ctr_() { ctr --address "$node/containerd.sock" --namespace k8s.io "$@"; }
mntns="$node/ns/mnt"
in_node() { nsenter --mount="$mntns" --net="/run/netns/$netns" -- "$@"; }

# ---------------------------------------------------------------------------------------------
# PID bookkeeping shared with cluster.sh: proc_start_time, owned_pid, start_process, stop_process.
# shellcheck disable=SC2034 # read by processes.sh
proc_dir="$node"
# shellcheck source=SCRIPTDIR/../processes.sh
source "$here/../processes.sh"
node_bin="$(find_node24 "$cache_root")"
readonly node_bin

wait_for() { # wait_for SECONDS PROCESS_NAME DESCRIPTION COMMAND…
  local deadline=$((SECONDS + $1)) name="$2" what="$3"; shift 3
  until "$@" >/dev/null 2>&1; do
    if ! owned_pid "$name" >/dev/null; then
      tail -n 40 "$node/logs/$name.log" >&2
      die "$name exited before $what (log: $node/logs/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$node/logs/$name.log" >&2
      die "$what: not within $1 s (log: $node/logs/$name.log)"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# pieces of `up`

check_prerequisites() {
  local tool
  for tool in containerd containerd-shim-runc-v2 runc ctr nsenter kubectl openssl iptables; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y containerd runc iptables (see docs/testing.md)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || die "no reference CNI plugins in /usr/lib/cni: apt-get install -y containernetworking-plugins"
  [[ -x "$multus_bin" ]] || die "$multus_bin not found: npm run build"
  case "$mode" in
    thin) ;;
    thick)
      local exe
      for exe in multus-shim multus-daemon; do
        [[ -x "$repo_root/dist/bin/$exe" ]] || die "$repo_root/dist/bin/$exe not found: npm run build"
      done
      command -v curl >/dev/null || die "curl not found: apt-get install -y curl"
      ;;
    none)
      [[ -x "$repo_root/dist/bin/multus-shim" ]] || die "$repo_root/dist/bin/multus-shim not found: npm run build"
      ;;
    *) die "MULTUS_TS_NODE_MODE must be thin, thick or none, not $mode" ;;
  esac
  local c
  for c in $components; do
    case "$c" in
      kube-scheduler | kube-controller-manager) ;;
      *) die "unknown component in MULTUS_TS_NODE_COMPONENTS: $c (kube-scheduler, kube-controller-manager)" ;;
    esac
  done
  # Build what is missing, as `cluster.sh up` does for kube-apiserver (≈ 2 min on 2 cores once
  # kube-apiserver is built; cached by version in $bin_dir).
  # shellcheck disable=SC2086 # $components is a word list
  bash "$here/../cluster.sh" build kubelet $components 7>&- ||
    die "could not build kubelet $components (see $bin_dir/build.log)"
  [[ -n "$node_bin" ]] || die "no Node >= 24 on PATH or in $cache_root/node-24.*: bash scripts/setup.sh installs it"
  [[ -r "$pki/ca.key" && -r "$state/admin.kubeconfig" ]] || die "no control plane in $state: run cluster.sh up first"
  admin_kubectl get --raw /readyz >/dev/null || die "the control plane in $state is not ready"
}

# issue_cert NAME SUBJECT EXTENDED_KEY_USAGE: a client certificate signed by the harness CA
issue_cert() {
  local name="$1" subject="$2" eku="$3" dir="$node/pki"
  mkdir -p "$dir"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null
  printf 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = %s\n' "$eku" >"$dir/$name.ext"
  openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  chmod 600 "$dir/$name.key"
}

# write_cert_kubeconfig FILE NAME: kubeconfig for the client certificate $node/pki/NAME.*
write_cert_kubeconfig() {
  local file="$1" name="$2"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: multus-ts
    cluster:
      server: https://127.0.0.1:$apiserver_port
      certificate-authority: $pki/ca.crt
users:
  - name: $name
    user:
      client-certificate: $node/pki/$name.crt
      client-key: $node/pki/$name.key
contexts:
  - name: $name@multus-ts
    context: { cluster: multus-ts, user: $name }
current-context: $name@multus-ts
EOF
  chmod 600 "$file"
}

setup_netns() {
  ip netns add "$netns"
  nsenter --net="/run/netns/$netns" ip link set lo up
  # kubelet needs a non-loopback node IP that is assigned to an interface of its namespace.
  nsenter --net="/run/netns/$netns" ip addr add "$node_ip/32" dev lo
  # The `kubernetes` Service's ClusterIP, served by forward-node (see the header).
  nsenter --net="/run/netns/$netns" ip addr add "$service_ip/32" dev lo
  # An `eth0` like a real node's, for NADs with "master": "eth0" (macvlan): a veth whose peer is a
  # port of the bridge `lan` in the "lan" namespace — the nodes' shared L2 segment, standing in for
  # the physical network, with a host at 192.168.100.1/24 on it — so traffic never leaves them.
  # The first node makes the segment; the others join it.
  if ((number == 1)); then
    ip netns add "$lan_netns"
    nsenter --net="/run/netns/$lan_netns" ip link set lo up
    nsenter --net="/run/netns/$lan_netns" ip link add lan type bridge
    nsenter --net="/run/netns/$lan_netns" ip addr add 192.168.100.1/24 dev lan
    nsenter --net="/run/netns/$lan_netns" ip link set lan up
  fi
  ip link add eth0 netns "$netns" type veth peer name "port$number" netns "$lan_netns"
  nsenter --net="/run/netns/$lan_netns" ip link set "port$number" master lan up
  nsenter --net="/run/netns/$netns" ip link set eth0 up
}

# The node's mount namespace (see the header), kept alive by a bind mount of its ns file.
setup_mntns() {
  mkdir -p "$node/ns" "$node/net.d" "$node/cni-bin" "$node/var-lib-cni" "$node/device-plugins" "$node/kubelet/pod-resources" "$node/devinfo" \
    "$node/overlay/etc/upper" "$node/overlay/etc/work" "$node/overlay/opt/upper" "$node/overlay/opt/work" \
    "$node/overlay/var-lib/upper" "$node/overlay/var-lib/work" "$node/ns/run-netns"
  # A namespace file can only be bound onto a private mount.
  mount --bind "$node/ns" "$node/ns"
  mount --make-private "$node/ns"
  touch "$mntns"
  unshare --mount="$mntns" --propagation unchanged -- bash -euo pipefail -c '
    node="$1"
    # Nothing made here propagates back to the machine; the machine'"'"'s mounts still reach in.
    mount --make-rslave /
    mount --rbind /run/netns "$node/ns/run-netns"
    mount -t tmpfs -o mode=0755,size=64m node-run /run
    mkdir -p /run/netns
    mount --move "$node/ns/run-netns" /run/netns
    mount -t overlay node-etc -o "lowerdir=/etc,upperdir=$node/overlay/etc/upper,workdir=$node/overlay/etc/work" /etc
    mount -t overlay node-opt -o "lowerdir=/opt,upperdir=$node/overlay/opt/upper,workdir=$node/overlay/opt/work" /opt
    # /var/lib too, so /var/lib/cni need not exist on the machine (a fresh one has none).
    mount -t overlay node-var-lib -o "lowerdir=/var/lib,upperdir=$node/overlay/var-lib/upper,workdir=$node/overlay/var-lib/work" /var/lib
    mkdir -p /etc/cni/net.d /opt/cni/bin /var/lib/cni
    mount --bind "$node/net.d" /etc/cni/net.d
    mount --bind "$node/cni-bin" /opt/cni/bin
    mount --bind "$node/var-lib-cni" /var/lib/cni
    # The kubelet'"'"'s device paths where a real node has them (its --root-dir is $node/kubelet, but a
    # device plugin DaemonSet and Multus look under /var/lib/kubelet): the device manager'"'"'s fixed
    # directory (sockets, checkpoint), the PodResources socket'"'"'s, and the device-info directory.
    # Test device plugins outside the namespace reach them as $node/device-plugins and $node/devinfo.
    mkdir -p /var/lib/kubelet/device-plugins /var/lib/kubelet/pod-resources /run/k8s.cni.cncf.io/devinfo
    mount --bind "$node/device-plugins" /var/lib/kubelet/device-plugins
    mount --bind "$node/kubelet/pod-resources" /var/lib/kubelet/pod-resources
    mount --bind "$node/devinfo" /run/k8s.cni.cncf.io/devinfo
    # Shared among the node'"'"'s own mounts (still slaves of the machine'"'"'s): a pod'"'"'s HostToContainer
    # volume (/run/netns, the host root) then sees sandbox netns mounted after it started.
    mount --make-rshared /
  ' setup-mntns "$node"
}

remove_mntns() {
  [[ -d "$node/ns" ]] || return 0
  umount "$mntns" 2>/dev/null || true
  umount "$node/ns" 2>/dev/null || true
}

setup_cgroups() {
  # kubelet (cgroupfs driver) wants its --cgroup-root to exist in every hierarchy; its own
  # root per node keeps its kubepods tree apart from anything else on the machine.
  local dir
  for dir in /sys/fs/cgroup/*/; do
    [[ -d "$dir" ]] || continue
    mkdir -p "$dir$cgroup_name"
    if [[ -e "$dir/cpuset.cpus" ]]; then
      cat "$dir/cpuset.cpus" >"$dir$cgroup_name/cpuset.cpus"
      cat "$dir/cpuset.mems" >"$dir$cgroup_name/cpuset.mems"
    fi
  done
}

save_sysctls() {
  # Only the first node's: it is started first and stopped last, so it saw them before any kubelet.
  ((number == 1)) || return 0
  local s
  for s in "${sysctls[@]}"; do printf '%s %s\n' "$s" "$(cat "/proc/sys/$s")"; done >"$node/sysctls.saved"
}

write_cni_config() {
  mkdir -p "$node/net.d" "$node/cni-bin" "$node/multus" "$node/ipam"
  local plugin
  if [[ "$mode" == none ]]; then
    # A node as a user has it: real plugin files in /opt/cni/bin (a pod that chroots into the
    # host's root must find them there), hard links where the file system allows.
    for plugin in /usr/lib/cni/*; do ln -f "$plugin" "$node/cni-bin/${plugin##*/}" 2>/dev/null || cp "$plugin" "$node/cni-bin/"; done
  else
    # containerd 1.6 takes one CNI bin dir: the reference plugins plus our multus, as symlinks.
    for plugin in /usr/lib/cni/*; do ln -sfn "$plugin" "$node/cni-bin/${plugin##*/}"; done
    ln -sfn "$multus_bin" "$node/cni-bin/multus"
  fi
  cat >"$node/net.d/10-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "mt-podnet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": { "type": "host-local", "subnet": "$pod_subnet", "dataDir": "$node/ipam" }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  printf '%s\n' "$mode" >"$node/mode"
  [[ "$mode" != none ]] || return 0
  if [[ "$mode" == thick ]]; then
    write_daemon_config
    return 0
  fi
  # containerd loads the alphabetically first file: multus, which delegates to the bridge above
  # (clusterNetwork resolves a CNI name in confDir) and adds what the networks annotation asks for.
  # The tests' NADs keep host-local's leases under the node's state directory: delegatePolicy lets
  # them name it (docs/security.md); the daemon config below says the same in thick mode.
  cat >"$node/net.d/00-multus.conf" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "multus-cni-network",
  "type": "multus",
  "kubeconfig": "$state/multus.kubeconfig",
  "clusterNetwork": "mt-podnet",
  "confDir": "$node/net.d",
  "cniDir": "$node/multus",
  "binDir": "$node/cni-bin",
  "logFile": "$node/logs/multus.log",
  "logLevel": "verbose",
  "capabilities": { "portMappings": true, "io.kubernetes.cri.pod-annotations": true },
  "delegatePolicy": { "allowedHostPaths": ["$node/"] }
}
EOF
}

# Thick: the shim (and the thin plugin next to it, for a DEL while the daemon is down) in the bin dir;
# the daemon finds the bridge conflist as its master and writes 00-multus.conflist in front of it.
write_daemon_config() {
  ln -sfn "$repo_root/dist/bin/multus-shim" "$node/cni-bin/multus-shim"
  ln -sfn "$multus_bin" "$node/cni-bin/multus"
  mkdir -p "$node/multus.d"
  cat >"$node/multus.d/daemon-config.json" <<EOF
{
  "cniVersion": "1.0.0",
  "socketDir": "$node/run/multus",
  "cniConfigDir": "$node/net.d",
  "multusAutoconfigDir": "$node/net.d",
  "kubeconfig": "$state/multus.kubeconfig",
  "confDir": "$node/net.d",
  "cniDir": "$node/multus",
  "binDir": "$node/cni-bin",
  "logFile": "$node/logs/multus.log",
  "logLevel": "verbose",
  "capabilities": { "io.kubernetes.cri.pod-annotations": true },
  "delegatePolicy": { "allowedHostPaths": ["$node/"] }
}
EOF
}

start_daemon() {
  [[ "$mode" == thick ]] || return 0
  start_process multus-daemon nsenter --mount="$mntns" --net="/run/netns/$netns" -- env MULTUS_NODE_NAME="$node_name" \
    "$repo_root/dist/bin/multus-daemon" --config "$node/multus.d/daemon-config.json"
  wait_for 60 multus-daemon "multus-daemon ready" curl -sf --unix-socket "$node/run/multus/multus.sock" http://multus/readyz
  [[ -s "$node/net.d/00-multus.conflist" ]] || die "multus-daemon is ready but wrote no $node/net.d/00-multus.conflist"
}

write_containerd_config() {
  mkdir -p "$node/containerd/root" "$node/containerd/state" "$node/containerd/opt" "$node/runc"
  cat >"$node/containerd.toml" <<EOF
version = 2
root = "$node/containerd/root"
state = "$node/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$node/containerd.sock"

[ttrpc]
  address = "$node/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$node/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # runc cannot lower oom_score_adj without CAP_SYS_RESOURCE (machine-notes.md).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$node/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$node/cni-bin"
    conf_dir = "$node/net.d"
    max_conf_num = 1
EOF
}

import_images() {
  # Cached by the recipe's content, so an edited images.sh or pause.c rebuilds.
  local images key
  key="$(cat "$here/images.sh" "$here/pause.c" "$repo_root/scripts/lib/oci.sh" | sha256sum | cut -c1-12)"
  mapfile -t images < <(bash "$here/images.sh" "$cache_root/node-images/$key")
  local archive
  for archive in "${images[@]}"; do
    ctr_ images import --platform linux/amd64 "$archive" >&2
  done
  # The examples say busybox:1.35.0 (a tag, so kubelet uses what is there): that is what Debian 12's
  # busybox-static is.
  ctr_ images tag --force docker.io/library/busybox:mt docker.io/library/busybox:1.35.0 >&2
  if [[ "$mode" == none ]]; then
    # Built once per control plane (and again when dist/bin changed), imported into every node.
    local image="$state/multus-ts.oci.tar"
    if ! [[ -s "$image" && "$image" -nt "$repo_root/dist/bin/multus" && "$image" -nt "$repo_root/dist/bin/multus-shim" && "$image" -nt "$repo_root/scripts/image.sh" ]]; then
      local tmp
      tmp="$(mktemp "$state/multus-ts.oci.tar.XXXXXX")"  # two nodes starting at once build apart
      bash "$repo_root/scripts/image.sh" "$tmp" >/dev/null || { rm -f "$tmp"; die "could not build the Multus-TS image (scripts/image.sh)"; }
      mv -f "$tmp" "$image"
    fi
    ctr_ images import --platform linux/amd64 "$image" >&2
  fi
}

write_kubelet_config() {
  mkdir -p "$node/kubelet" "$node/pod-logs"
  issue_cert kubelet "/O=system:nodes/CN=system:node:$node_name" clientAuth
  write_cert_kubeconfig "$node/kubelet.kubeconfig" kubelet
  cat >"$node/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$node/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$cgroup_name
cgroupsPerQOS: true
# Kubernetes 1.35 refuses cgroup v1 unless told otherwise; this machine is cgroup v1 hybrid.
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: false
podLogsDir: $node/pod-logs
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $pki/ca.crt }
authorization:
  mode: AlwaysAllow
# No registry: images are imported, never pulled, and must never be garbage-collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
resolvConf: ""
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
EOF
}

start_control_plane_extras() {
  local c
  for c in $components; do
    case "$c" in
      kube-scheduler)
        issue_cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
        write_cert_kubeconfig "$node/kube-scheduler.kubeconfig" kube-scheduler
        start_process kube-scheduler "$bin_dir/kube-scheduler" \
          --kubeconfig="$node/kube-scheduler.kubeconfig" \
          --authentication-kubeconfig="$node/kube-scheduler.kubeconfig" \
          --authorization-kubeconfig="$node/kube-scheduler.kubeconfig" \
          --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --v=1
        ;;
      kube-controller-manager)
        issue_cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
        write_cert_kubeconfig "$node/kube-controller-manager.kubeconfig" kube-controller-manager
        start_process kube-controller-manager "$bin_dir/kube-controller-manager" \
          --kubeconfig="$node/kube-controller-manager.kubeconfig" \
          --authentication-kubeconfig="$node/kube-controller-manager.kubeconfig" \
          --authorization-kubeconfig="$node/kube-controller-manager.kubeconfig" \
          --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
          --use-service-account-credentials=true \
          --service-account-private-key-file="$pki/sa.key" \
          --root-ca-file="$pki/ca.crt" \
          --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
          --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
          --v=1
        ;;
    esac
  done
}

node_ready() {
  [[ "$(admin_kubectl get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# What `kubectl apply -f examples/…` needs right after node-up: the default namespace's ServiceAccount
# (made by kube-controller-manager a moment after it starts).
default_sa_ready() {
  [[ " $components " != *" kube-controller-manager "* ]] || admin_kubectl get serviceaccount default -n default >/dev/null 2>&1
}

healthy() {
  local p
  [[ "$(cat "$node/mode" 2>/dev/null || echo thin)" == "$mode" ]] || return 1
  for p in forward-root forward-node containerd kubelet $components; do
    owned_pid "$p" >/dev/null || return 1
  done
  if [[ "$mode" == thick ]]; then owned_pid multus-daemon >/dev/null || return 1; fi
  node_ready
}

# ---------------------------------------------------------------------------------------------
# pieces of `down`

# Pods first, through the API, while kubelet and containerd still run: kubelet then stops each
# sandbox through CRI, so containerd runs CNI DEL (multus, bridge, host-local) as on a real node.
drain_pods() {
  owned_pid kubelet >/dev/null && owned_pid containerd >/dev/null || return 0
  # No API (a control plane being replaced): nothing will stop the pods; remove_leftovers will.
  admin_kubectl delete pods --all-namespaces --field-selector "spec.nodeName=$node_name" \
    --grace-period=0 --force --wait=false >/dev/null 2>&1 || return 0
  # Stopped is enough: StopPodSandbox already ran CNI DEL; kubelet would only remove the stopped
  # containers at its next garbage collection, a minute later, so remove_leftovers does that.
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    ctr_ tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING" { found = 1 } END { exit !found }' || return 0
    sleep 0.5
  done
  log "tasks still running after 60 s; killing them directly"
}

# What kubelet did not clean up: tasks and containers by containerd's own API.
remove_leftovers() {
  owned_pid containerd >/dev/null || return 0
  local id
  while read -r id; do
    [[ -n "$id" ]] || continue
    ctr_ tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
  done < <(ctr_ tasks ls -q 2>/dev/null)
  sleep 0.5
  while read -r id; do
    [[ -n "$id" ]] || continue
    ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true
    ctr_ containers delete "$id" >/dev/null 2>&1 || true
  done < <(ctr_ containers ls -q 2>/dev/null)
}

unmount_under_node() {
  # Mount points under $node (overlay rootfs, shm, kubelet volumes), deepest first.
  local mp
  while read -r mp; do
    umount -l "$mp" 2>/dev/null || true
  done < <(awk -v p="$node/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/"$cgroup_name"; do
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

restore_sysctls() {
  [[ -r "$node/sysctls.saved" ]] || return 0
  local s v
  while read -r s v; do
    [[ "$(cat "/proc/sys/$s")" == "$v" ]] || printf '%s\n' "$v" >"/proc/sys/$s" 2>/dev/null || log "could not restore $s=$v"
  done <"$node/sysctls.saved"
}

# Sandbox network namespaces containerd bind-mounted under /run/netns for pods of this node.
remove_pod_netns() {
  [[ -r "$node/pod-netns" ]] || return 0
  local path
  while read -r path; do
    # Only what containerd's CRI names: /var/run/netns/cni-<uuid>.
    [[ "$path" =~ ^(/var)?/run/netns/cni-[0-9a-f-]+$ && -e "$path" ]] || continue
    umount "$path" 2>/dev/null || true
    rm -f "$path"
  done <"$node/pod-netns"
}

# The other nodes of this control plane: the first node's `down` stops them before itself, since
# they hang off its "lan" segment and its sysctls are the machine's.
stop_other_nodes() {
  ((number == 1)) || return 0
  local dir
  for dir in "$state"/node-[2-9]; do
    [[ -d "$dir" ]] || continue
    MULTUS_TS_NODE_NUMBER="${dir##*-}" bash "${BASH_SOURCE[0]}" down 7>&- || log "stopping ${dir##*/} failed"
  done
}

stop_node() {
  [[ -d "$node" ]] || return 0
  local c
  stop_other_nodes
  drain_pods
  # Every component a node can have, whatever MULTUS_TS_NODE_COMPONENTS says now.
  for c in kubelet kube-scheduler kube-controller-manager; do stop_process "$c"; done
  # Remember the sandbox netns paths of leftover pods before containerd forgets them.
  if owned_pid containerd >/dev/null; then
    local id
    while read -r id; do
      [[ -n "$id" ]] || continue
      ctr_ containers info "$id" 2>/dev/null | "$node_bin" -e '
        let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
          try {
            for (const n of JSON.parse(s).Spec?.linux?.namespaces ?? []) if (n.type === "network" && n.path) console.log(n.path);
          } catch { /* not JSON: nothing to remember */ }
        });' >>"$node/pod-netns" || true
    done < <(ctr_ containers ls -q 2>/dev/null)
  fi
  remove_leftovers
  stop_process containerd
  # After containerd: the last DELs of drained pods went through it.
  stop_process multus-daemon
  stop_process forward-node
  stop_process forward-root
  rm -f "$state/kubelets/$node_name"
  remove_pod_netns
  unmount_under_node
  remove_mntns
  ip netns delete "$netns" 2>/dev/null || true
  ((number > 1)) || ip netns delete "$lan_netns" 2>/dev/null || true
  remove_cgroups
  restore_sysctls
  admin_kubectl delete node "$node_name" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$node"
}

# ---------------------------------------------------------------------------------------------
# commands

# Serialises up/down of one node (test files may call `up` from several processes at once).
take_lock() {
  local lock="$state.${node##*/}.lock"
  exec 7>"$lock"
  flock -n 7 && return 0
  log "waiting for another node.sh working on $node"
  flock -w 600 7 || die "could not lock $lock within 10 min"
}

cmd_up() {
  trap 'exit 130' INT
  trap 'exit 143' TERM
  take_lock
  check_prerequisites
  if healthy; then
    log "reusing the running node $node_name (netns $netns)"
    printf 'NODE_NAME=%s\nNODE_NETNS=%s\nNODE_STATE=%s\nMULTUS_TS_NODE=reused\n' "$node_name" "$netns" "$node"
    return 0
  fi
  if [[ -e "$node" ]] || ip netns list | grep -qw "$netns"; then
    log "$node exists but the node is not healthy: stopping what is left and starting afresh"
    stop_node
    ip netns delete "$netns" 2>/dev/null || true
    ((number > 1)) || ip netns delete "$lan_netns" 2>/dev/null || true
  fi
  if ((number == 1)); then
    (exec 3<>"/dev/tcp/127.0.0.1/$kubelet_port") 2>/dev/null &&
      die "127.0.0.1:$kubelet_port is taken by a process this script did not start; set MULTUS_TS_KUBELET_PORT"
  else
    # The other nodes join the first node's segment and use its control-plane extras.
    [[ -d "$state/node" ]] && ip netns list | grep -qw "$lan_netns" ||
      die "node $number needs the first node of $state running: cluster.sh node-up first"
  fi
  local started=$SECONDS
  mkdir -p "$node/pids" "$node/logs"
  chmod 700 "$node"
  trap 'log "start-up failed; stopping the node (logs: $node/logs)"; cp -r "$node/logs" "$state/node-logs.failed" 2>/dev/null || true; stop_node' EXIT
  setup_netns
  setup_mntns
  setup_cgroups
  save_sysctls
  # API into the node netns, kubelet out of it (see the header). Only the first node's kubelet is
  # also on the machine's 127.0.0.1 (its name, `localhost`, resolves there); every node's is reached
  # through the control plane's egress proxy by its route in $state/kubelets.
  local kubelet_out=()
  ((number > 1)) || kubelet_out=("tcp:127.0.0.1:$kubelet_port=unix:$node/kubelet.sock")
  start_process forward-root "$node_bin" "$here/forward.ts" \
    "unix:$node/api.sock=tcp:127.0.0.1:$apiserver_port" "${kubelet_out[@]}"
  start_process forward-node nsenter --net="/run/netns/$netns" -- "$node_bin" "$here/forward.ts" \
    "tcp:127.0.0.1:$apiserver_port=unix:$node/api.sock" "unix:$node/kubelet.sock=tcp:127.0.0.1:$kubelet_port" \
    "tcp:$service_ip:443=unix:$node/api.sock"
  wait_for 10 forward-node "the API forwarders" grep -qx ready "$node/logs/forward-node.log"
  wait_for 10 forward-root "the API forwarders" grep -qx ready "$node/logs/forward-root.log"
  mkdir -p "$state/kubelets"
  ln -sfn "$node/kubelet.sock" "$state/kubelets/$node_name"
  write_cni_config
  start_daemon
  write_containerd_config
  # nsenter --net, not `ip netns exec`: the latter remounts /sys, hiding /sys/fs/cgroup from runc.
  start_process containerd nsenter --mount="$mntns" --net="/run/netns/$netns" -- containerd --config "$node/containerd.toml"
  wait_for 30 containerd "containerd answering" ctr_ version
  import_images
  write_kubelet_config
  start_process kubelet nsenter --mount="$mntns" --net="/run/netns/$netns" -- "$bin_dir/kubelet" \
    --config="$node/kubelet-config.yaml" \
    --kubeconfig="$node/kubelet.kubeconfig" \
    --root-dir="$node/kubelet" \
    --cert-dir="$node/kubelet/pki" \
    --hostname-override="$node_name" \
    --node-ip="$node_ip" \
    --v=2
  start_control_plane_extras
  wait_for 120 kubelet "node $node_name Ready" node_ready
  wait_for 60 kubelet "ServiceAccount default/default" default_sa_ready
  trap - EXIT
  log "node $node_name Ready in $((SECONDS - started)) s (netns $netns, state $node)"
  printf 'NODE_NAME=%s\nNODE_NETNS=%s\nNODE_STATE=%s\nMULTUS_TS_NODE=started\n' "$node_name" "$netns" "$node"
}

cmd_down() {
  take_lock
  if [[ ! -d "$node" ]]; then
    log "no node: $node does not exist"
    ip netns delete "$netns" 2>/dev/null || true
    ((number > 1)) || ip netns delete "$lan_netns" 2>/dev/null || true
    return 0
  fi
  stop_node
  log "node stopped; removed $node"
}

cmd_status() {
  [[ -d "$node" ]] || { echo "no node (no $node)"; return 3; }
  local p pid any=0
  printf '%-24s %s\n' "node:" "$node_name (netns $netns, cgroup /$cgroup_name, state $node)"
  printf '%-24s %s\n' "versions:" "kubelet $k8s_version, $(containerd --version | awk '{ print $1, $3 }'), $(runc --version | head -n 1)"
  for p in forward-root forward-node containerd kubelet $components; do
    if pid="$(owned_pid "$p")"; then
      any=1
      printf '%-24s running, pid %s, log %s\n' "$p:" "$pid" "$node/logs/$p.log"
    else
      printf '%-24s not running, log %s\n' "$p:" "$node/logs/$p.log"
    fi
  done
  if healthy; then
    printf '%-24s %s\n' "Ready:" "True"
    return 0
  fi
  printf '%-24s %s\n' "Ready:" "no"
  ((any)) && return 1
  return 3
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
