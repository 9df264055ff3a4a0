#!/usr/bin/env bash
# The demo: what a user does. A local cluster (the real control plane of test/cluster plus a real
# node: containerd + kubelet, with only a bridge cluster network and no Multus), then
#   kubectl apply -k deploy/thick                      the DaemonSet installs Multus-TS on the node
#   kubectl apply -f examples/…                        the seed pods
#   kubectl exec … -- ip a                             eth0, plus net1 / dataplane1 / dataplane2
#   multusctl validate nad bridge; multusctl plan …    what Multus checks and would do
#   seed 000's SR-IOV pod and seed 001's DRA Deployment, on stand-ins for the hardware (docs/devices.md)
# then deletes the pods, uninstalls (deploy/uninstall: the node's CNI directory is as before) and
# tears the cluster down. Idempotent; safe to run again. The engine underneath, without Kubernetes
# objects in the way (config-file mode, a hand-driven pod, thick-mode internals): scripts/demo-engine.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$MULTUS_TS_ROOT"

# A control plane and node of the demo's own, beside any test cluster.
export MULTUS_TS_CLUSTER_DIR=/tmp/multus-ts-demo MULTUS_TS_APISERVER_PORT=19443 MULTUS_TS_ETCD_PORT=15379 \
  MULTUS_TS_KUBELET_PORT=10650 MULTUS_TS_NODE_MODE=none
export KUBECONFIG="$MULTUS_TS_CLUSTER_DIR/admin.kubeconfig"
NODE_STATE="$MULTUS_TS_CLUSTER_DIR/node"
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
# The node's own view of its files (it has its own mount namespace: node.sh).
on_node() { nsenter --mount="$NODE_STATE/ns/mnt" -- "$@"; }

fake_pid=""
teardown() {
  if [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null; then wait "$fake_pid" || true; fi
  say "tearing the local cluster down"
  bash test/cluster/cluster.sh node-down >/dev/null 2>&1 || true
  bash test/cluster/cluster.sh release $$ >/dev/null 2>&1 || true
}
trap teardown EXIT

say "local cluster: control plane (test/cluster/cluster.sh; the first run builds Kubernetes from source, ~8 min) and a node"
bash test/cluster/cluster.sh up --hold $$ >/dev/null
node_out=$(bash test/cluster/cluster.sh node-up)
NODE_NETNS=$(sed -n 's/^NODE_NETNS=//p' <<<"$node_out")
run kubectl get nodes -o wide

say "the node before the install: its CNI config directory and plugins"
run on_node ls /etc/cni/net.d /opt/cni/bin

say "install Multus-TS (thick mode, the default) — on a real cluster the same command, with the image from a registry"
run kubectl apply -k deploy/thick
run kubectl -n kube-system rollout status daemonset/multus --timeout=120s
run on_node cat /etc/cni/net.d/00-multus.conflist

say "the seed pods, applied unchanged from examples/"
run kubectl apply -f examples/default-only/ -f examples/seed-000-bridge/ -f examples/json-interface-names/
run kubectl wait --for=condition=Ready pod/test pod/test-bridge pod/test-dataplane --timeout=120s
for pod in test test-bridge test-dataplane; do
  run kubectl exec "$pod" -- ip a
done
say "what Multus reported (network-status) and the bridge it made on the node"
run kubectl get pod test-bridge -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}'
echo
run ip -n "$NODE_NETNS" -br link show mynet
run kubectl get events --field-selector reason=AddedInterface -o custom-columns=POD:.involvedObject.name,MESSAGE:.message

say "multusctl (docs/multusctl.md): a NAD checked on the node before a pod uses it, and the plan Multus would execute for a pod"
run on_node "$MULTUS_TS_ROOT/dist/bin/multusctl" validate nad bridge
run on_node "$MULTUS_TS_ROOT/dist/bin/multusctl" plan test-dataplane

say "SR-IOV and DRA (seeds 000 and 001). This machine has no SR-IOV: the VFs, the device plugin, the DRA driver and sriov-cni are stand-ins that speak the kubelet's real APIs (docs/devices.md)"
node test/devices/fake-sriov-node.ts "$NODE_STATE" "$NODE_NETNS" >"$MULTUS_TS_CLUSTER_DIR/fake-sriov.log" 2>&1 &
fake_pid=$!
for _ in $(seq 240); do grep -qx ready "$MULTUS_TS_CLUSTER_DIR/fake-sriov.log" && break; kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.5; done
grep -qx ready "$MULTUS_TS_CLUSTER_DIR/fake-sriov.log" || { cat "$MULTUS_TS_CLUSTER_DIR/fake-sriov.log"; say "the SR-IOV stand-ins did not start"; exit 1; }
run sh -c "kubectl get nodes -o json | jq '.items[].status.allocatable'"
run kubectl apply -f examples/seed-000-sriov/sriov-nad.yaml -f examples/seed-000-sriov/pod.yaml
run kubectl wait --for=condition=Ready pod/test-sriov --timeout=120s
run kubectl exec test-sriov -- ip a
run kubectl get pod test-sriov -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}'
echo
run kubectl apply -f examples/seed-001-dra/
run kubectl rollout status deployment/pod0 --timeout=120s
run kubectl get resourceclaims
run kubectl exec deploy/pod0 -- ip a
run kubectl delete -f examples/seed-000-sriov/sriov-nad.yaml -f examples/seed-000-sriov/pod.yaml -f examples/seed-001-dra/ --grace-period=1 --wait=true
# The Deployment's pod goes after it; its DEL and the claim's unprepare need the stand-ins still up.
run kubectl wait --for=delete pod -l app=pod0 --timeout=60s
kill "$fake_pid"
wait "$fake_pid" || true
fake_pid=""

say "delete the pods; uninstall (docs/install.md): the node's CNI directory is as it was"
run kubectl delete -f examples/default-only/ -f examples/seed-000-bridge/ -f examples/json-interface-names/ --grace-period=1 --wait=true
run kubectl -n kube-system delete daemonset multus --cascade=foreground
run kubectl apply -k deploy/uninstall
run kubectl -n kube-system rollout status daemonset/multus-uninstall --timeout=120s
run kubectl -n kube-system logs daemonset/multus-uninstall -c uninstall
run kubectl delete -k deploy/uninstall --wait=true
run on_node ls /etc/cni/net.d /opt/cni/bin
[[ "$(on_node ls /etc/cni/net.d)" == "10-bridge.conflist" ]] || { say "the node's CNI directory is not as it was"; exit 1; }
say "done: installed, used and uninstalled as a user does"
