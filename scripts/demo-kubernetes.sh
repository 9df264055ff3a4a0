#!/usr/bin/env bash
# Demo, part 2: Multus-TS with a real control plane (etcd + kube-apiserver from test/cluster, built
# from source and cached on first use). A bridge NAD and a macvlan NAD; a pod created through the API
# and annotated with the JSON selection below; its sandbox is a network namespace, and dist/bin/multus
# is run exactly as a runtime would run it, inside a throw-away node namespace. We print the pod's
# interfaces and its network-status annotation, ping over each interface, DEL, and clean up.
# Part 3, thick mode: dist/bin/multus-daemon in the node namespace writes its CNI config, the same pod
# is set up again through dist/bin/multus-shim, then the daemon is stopped — its config stays — and
# the DEL still cleans up (the shim hands it to the thin plugin).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$MULTUS_TS_ROOT"

say "control plane (test/cluster/cluster.sh up; the first run builds kube-apiserver, ~6 min)"
# Held by this script: released at exit, and stopped then only if no one else holds it.
cluster_out=$(bash test/cluster/cluster.sh up --hold $$)
ADMIN=$(sed -n 's/^ADMIN_KUBECONFIG=//p' <<<"$cluster_out")
MULTUS=$(sed -n 's/^MULTUS_KUBECONFIG=//p' <<<"$cluster_out")
SERVER=$(sed -n 's/^SERVER=//p' <<<"$cluster_out")
k() { kubectl --kubeconfig "$ADMIN" "$@"; }

id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NODE="mtdemo-knode-$id"; POD="mtdemo-kpod-$id"; LAN="mtdemo-klan-$id"; NS="multus-demo-$id"
STATE=$(mktemp -d /tmp/multus-ts-kdemo.XXXXXX)
CID="kdemo-$id"
BRIDGE_PID=""
DAEMON_PID=""

cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  [ -n "$BRIDGE_PID" ] && kill "$BRIDGE_PID" 2>/dev/null && wait "$BRIDGE_PID" 2>/dev/null || true
  for ns in "$POD" "$LAN" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$STATE"
  bash test/cluster/cluster.sh release $$ >/dev/null 2>&1 || true
}
trap cleanup EXIT
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

say "node, pod and lan namespaces; the API reachable from the node namespace on its own loopback"
ip netns add "$NODE"; ip netns add "$POD"; ip netns add "$LAN"
ip -n "$NODE" link add lan0 type veth peer name lan-peer netns "$LAN"
ip -n "$NODE" link set lan0 up
ip -n "$LAN" addr add 10.20.0.1/24 dev lan-peer
ip -n "$LAN" link set lan-peer up
port=${SERVER##*:}
node test/helpers/api-bridge-cli.ts "$NODE" "$port" >"$STATE/bridge.out" 2>&1 &
BRIDGE_PID=$!
for _ in $(seq 50); do grep -q ready "$STATE/bridge.out" 2>/dev/null && break; sleep 0.1; done

mkdir -p "$STATE/net.d"
cat >"$STATE/net.d/10-cluster.conf" <<JSON
{"cniVersion":"1.0.0","name":"cluster-net","type":"bridge","bridge":"mtdemo-cbr0","isGateway":true,
 "ipam":{"type":"host-local","subnet":"10.88.0.0/24","dataDir":"$STATE/ipam"}}
JSON

say "a namespace, a bridge NAD and a macvlan NAD (kubectl apply)"
cat >"$STATE/objects.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata: { name: $NS }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: $NS }
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: bridge-net, namespace: $NS }
spec:
  config: '{"cniVersion":"1.0.0","type":"bridge","bridge":"mtdemo-br1","isGateway":true,"ipam":{"type":"host-local","subnet":"10.30.0.0/24","dataDir":"$STATE/ipam"}}'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: macvlan-net, namespace: $NS }
spec:
  config: '{"cniVersion":"1.0.0","type":"macvlan","master":"lan0","mode":"bridge","ipam":{"type":"host-local","subnet":"10.20.0.0/24","rangeStart":"10.20.0.100","dataDir":"$STATE/ipam"}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: demo
  namespace: $NS
  annotations:
    k8s.v1.cni.cncf.io/networks: '[{"name":"bridge-net","interface":"data0"},{"name":"macvlan-net"},{"name":"macvlan-net"}]'
spec:
  nodeName: demo-node
  containers: [{ name: c, image: busybox }]
YAML
run k apply -f "$STATE/objects.yaml"
UID_=$(k get pod -n "$NS" demo -o jsonpath='{.metadata.uid}')

cat >"$STATE/00-multus.conf" <<JSON
{"cniVersion":"1.0.0","name":"multus-cni-network","type":"multus","kubeconfig":"$MULTUS",
 "clusterNetwork":"cluster-net","confDir":"$STATE/net.d","cniDir":"$STATE/multus","binDir":"/usr/lib/cni"}
JSON
say "Multus config: clusterNetwork from confDir, the multus ServiceAccount's kubeconfig (real RBAC)"
cat "$STATE/00-multus.conf"

# cni_call EXECUTABLE CONFIG COMMAND NETNS: one CNI call for the demo pod's sandbox $CID, as a runtime makes it.
cni_call() {
  ip netns exec "$NODE" env CNI_COMMAND="$3" CNI_CONTAINERID="$CID" CNI_NETNS="$4" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$NS;K8S_POD_NAME=demo;K8S_POD_INFRA_CONTAINER_ID=$CID;K8S_POD_UID=$UID_" \
    "$MULTUS_TS_ROOT/dist/bin/$1" <"$2"
}
cni() { cni_call multus "$STATE/00-multus.conf" "$@"; }

# Nothing of the pod may be left: links, host-local leases, journals and caches.
check_residue() {
  local links leases records
  links=$(ip -n "$POD" -o link | awk -F': ' '{print $2}' | tr '\n' ' ')
  leases=$(find "$STATE/ipam" -type f ! -name lock ! -name 'last_reserved_ip*' | wc -l)
  records=$(find "$STATE/multus" -type f ! -path '*/locks/.node.lock' | wc -l)
  echo "pod links: $links  host-local leases: $leases  records/caches: $records"
  if [ "$links" = "lo " ] && [ "$leases" = 0 ] && [ "$records" = 0 ]; then say "nothing left behind"; else say "RESIDUE FOUND"; exit 1; fi
}

say "CNI ADD"
cni ADD "/run/netns/$POD" >/dev/null
run ip -n "$POD" -br addr
say "the pod's k8s.v1.cni.cncf.io/network-status annotation"
k get pod -n "$NS" demo -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}' | jq .
say "events"
k get events -n "$NS" --field-selector involvedObject.name=demo -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message

say "ping over each interface"
run ip netns exec "$POD" ping -c 1 -W 2 -I eth0 10.88.0.1
run ip netns exec "$POD" ping -c 1 -W 2 -I data0 10.30.0.1
run ip netns exec "$POD" ping -c 1 -W 2 -I net2 10.20.0.1
run ip netns exec "$POD" ping -c 1 -W 2 -I net3 10.20.0.1

say "CNI DEL (twice, as containerd does)"
cni DEL "/run/netns/$POD"
cni DEL ""
check_residue

say "part 3, thick mode: multus-daemon in the node namespace (informers on the API, socket in $STATE/run)"
mkdir -p "$STATE/gen"
cat >"$STATE/daemon-config.json" <<JSON
{"cniVersion":"1.0.0","socketDir":"$STATE/run","cniConfigDir":"$STATE/gen","multusAutoconfigDir":"$STATE/net.d",
 "kubeconfig":"$MULTUS","confDir":"$STATE/net.d","cniDir":"$STATE/multus","binDir":"/usr/lib/cni","logLevel":"error"}
JSON
cat "$STATE/daemon-config.json"
ip netns exec "$NODE" env MULTUS_NODE_NAME=demo-node "$MULTUS_TS_ROOT/dist/bin/multus-daemon" --config "$STATE/daemon-config.json" 2>"$STATE/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do curl -sf --unix-socket "$STATE/run/multus.sock" http://x/readyz >/dev/null 2>&1 && break; sleep 0.1; done
run curl -s --unix-socket "$STATE/run/multus.sock" http://x/readyz
say "the CNI config the daemon wrote in front of the master (10-cluster.conf)"
cat "$STATE/gen/00-multus.conflist"
# What a runtime passes for a conflist's plugin: its keys plus the list's name and cniVersion.
jq -c '.plugins[0] + {name, cniVersion}' "$STATE/gen/00-multus.conflist" >"$STATE/shim.conf"
CID="kdemo-thick-$id"
shim() { cni_call multus-shim "$STATE/shim.conf" "$@"; }
say "CNI ADD through dist/bin/multus-shim → the daemon"
shim ADD "/run/netns/$POD" >/dev/null
run ip -n "$POD" -br addr
run ip netns exec "$POD" ping -c 1 -W 2 -I data0 10.30.0.1
say "the daemon's metrics: time per phase of that ADD"
curl -s --unix-socket "$STATE/run/multus.sock" http://x/metrics | grep -E '^multus_phase_duration_seconds_sum\{command="ADD"' || true
say "SIGTERM to the daemon: /readyz turns 500, requests in flight finish, the CNI config stays"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
run ls -l "$STATE/gen"
say "CNI DEL with the daemon gone: the shim runs the thin plugin on the host, from the journal"
shim DEL "/run/netns/$POD"
shim DEL ""
check_residue
