#!/usr/bin/env bash
# The engine demo (scripts/demo.sh is the user flow), part 1: Multus-TS in config-file mode, driven exactly as a container runtime drives a CNI plugin.
# A throw-away "node" namespace, a "pod" namespace and a "lan" namespace (a host on the macvlan's
# wire) are created; our multus plugin gives the pod eth0 (bridge) and net1 (macvlan); we ping over
# each, DEL, show that nothing is left, and delete everything we created.
# Part 2 (scripts/demo-kubernetes.sh) does the same with a real kube-apiserver and NADs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$MULTUS_TS_ROOT"

id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NODE="mtdemo-node-$id"; POD="mtdemo-pod-$id"; LAN="mtdemo-lan-$id"
STATE=$(mktemp -d /tmp/multus-ts-demo.XXXXXX)
CID="demo-$id"

cleanup() {
  for ns in "$POD" "$LAN" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$STATE"
}
trap cleanup EXIT

run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

say "creating namespaces: node=$NODE pod=$POD lan=$LAN"
ip netns add "$NODE"; ip netns add "$POD"; ip netns add "$LAN"
ip -n "$NODE" link set lo up
ip -n "$LAN" link set lo up
# The macvlan parent: lan0 in the node namespace, its peer in the lan namespace (10.20.0.1).
ip -n "$NODE" link add lan0 type veth peer name lan-peer netns "$LAN"
ip -n "$NODE" link set lan0 up
ip -n "$LAN" addr add 10.20.0.1/24 dev lan-peer
ip -n "$LAN" link set lan-peer up

CONF="$STATE/00-multus.conf"
cat >"$CONF" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "multus-demo",
  "type": "multus",
  "cniDir": "$STATE/multus",
  "binDir": "/usr/lib/cni",
  "delegates": [
    {
      "cniVersion": "1.0.0", "name": "bridge-net", "type": "bridge", "bridge": "mtdemo-br0", "isGateway": true,
      "ipam": { "type": "host-local", "subnet": "10.10.0.0/24", "dataDir": "$STATE/ipam" }
    },
    {
      "cniVersion": "1.0.0", "name": "macvlan-net", "type": "macvlan", "master": "lan0", "mode": "bridge",
      "ipam": { "type": "host-local", "subnet": "10.20.0.0/24", "rangeStart": "10.20.0.100", "dataDir": "$STATE/ipam" }
    }
  ]
}
JSON
say "Multus config ($CONF): bridge-net as the cluster network, macvlan-net as a secondary"
cat "$CONF"

cni() {
  local cmd=$1 netns=$2
  ip netns exec "$NODE" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$CID" CNI_NETNS="$netns" CNI_IFNAME=eth0 \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=demo-pod" CNI_PATH=/usr/lib/cni \
    "$MULTUS_TS_ROOT/dist/bin/multus" <"$CONF"
}

say "CNI ADD through dist/bin/multus (the result is the cluster network's, as the runtime expects)"
cni ADD "/run/netns/$POD" | jq .

say "the pod's interfaces"
run ip -n "$POD" -br addr
run ip -n "$POD" route

say "ping over eth0 (bridge-net) to the bridge gateway 10.10.0.1"
run ip netns exec "$POD" ping -c 2 -W 2 -I eth0 10.10.0.1
say "ping over net1 (macvlan-net) to the lan host 10.20.0.1"
run ip netns exec "$POD" ping -c 2 -W 2 -I net1 10.20.0.1

say "the journal Multus keeps until every DEL succeeded (each attachment's state), and the lock files"
run jq -c '.attachments[] | {network, ifName, state}' "$STATE/multus/attachments/$CID.json"
run ls -a "$STATE/multus/locks"

say "CNI DEL (twice, as containerd does: with the netns, then with CNI_NETNS=\"\")"
cni DEL "/run/netns/$POD"
cni DEL ""
echo "both DELs exited 0"

say "residue check"
left=0
pod_links=$(ip -n "$POD" -o link | awk -F': ' '{print $2}' | tr '\n' ' ')
echo "pod links:   $pod_links"; [ "$pod_links" = "lo " ] || left=1
node_veths=$(ip -n "$NODE" -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lan0$' || true)
echo "node veths besides lan0: ${node_veths:-none}"; [ -z "$node_veths" ] || left=1
leases=$(find "$STATE/ipam" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null | wc -l)
echo "host-local leases: $leases"; [ "$leases" = 0 ] || left=1
# The node lock file (locks/.node.lock) stays by design; a sandbox's journal, lock file and caches go.
records=$(find "$STATE/multus" -type f ! -path '*/locks/.node.lock' 2>/dev/null | wc -l)
echo "multus journals, lock files and result caches: $records"; [ "$records" = 0 ] || left=1
chains=$(ip netns exec "$NODE" iptables-save 2>/dev/null | grep -c '^:CNI-' || true)
echo "CNI iptables chains: $chains"; [ "$chains" = 0 ] || left=1
echo "(the bridge mtdemo-br0 itself stays, as the bridge plugin never deletes bridges; it goes with the node namespace)"
if [ "$left" = 0 ]; then say "nothing left behind"; else say "RESIDUE FOUND"; exit 1; fi

# Part 1's namespaces go now (exec would skip the EXIT trap and leave them behind).
cleanup
trap - EXIT
exec bash "$MULTUS_TS_ROOT/scripts/demo-kubernetes.sh"
