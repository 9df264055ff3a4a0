// Multus-TS installed the way users install it, on a real node that starts with no Multus at all
// (test/cluster/node/node.sh, MULTUS_TS_NODE_MODE=none: only the `mt-podnet` bridge conflist in
// /etc/cni/net.d, the reference plugins in /opt/cni/bin, and the Multus-TS image built by
// scripts/image.sh and imported with `ctr`). Real: kube-apiserver + etcd, kubelet, containerd + runc,
// kube-scheduler and kube-controller-manager (the DaemonSet controller, ServiceAccounts, tokens),
// `kubectl apply -k deploy/…`, the image's multus-install, multus-daemon and host executables, the
// reference plugins. The node's /etc, /opt, /var/lib/cni and /run are its own (a mount namespace;
// node.sh), so hostPath /etc/cni/net.d is the node's and the machine's stays untouched; the
// `kubernetes` Service's ClusterIP is served by node.sh's forwarder, as kube-proxy would.
// A control plane and node of their own (state dir and ports below).
const install: Record<string, string> = {
  MULTUS_TS_NODE_MODE: "none",
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e-install",
  MULTUS_TS_APISERVER_PORT: "18743",
  MULTUS_TS_ETCD_PORT: "14679",
  MULTUS_TS_KUBELET_PORT: "10550",
};
for (const [key, value] of Object.entries(install)) process.env[key] = value;
await import("./install-scenarios.ts");
