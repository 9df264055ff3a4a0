// Imported first by the thick-mode e2e files: the node runs thick mode (the real multus-daemon,
// containerd execs multus-shim; test/cluster/node/node.sh, MULTUS_TS_NODE_MODE=thick) on a control
// plane and node of their own (state dir and ports below), so the thin run's node is untouched.
const thick: Record<string, string> = {
  MULTUS_TS_NODE_MODE: "thick",
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e-thick",
  MULTUS_TS_APISERVER_PORT: "18543",
  MULTUS_TS_ETCD_PORT: "14479",
  MULTUS_TS_KUBELET_PORT: "10350",
};
for (const [key, value] of Object.entries(thick)) process.env[key] = value;
