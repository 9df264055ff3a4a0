// The in-place upgrade from upstream Multus and the rollback (upgrade-scenarios.ts), on a node that
// starts without Multus (test/cluster/node/node.sh, MULTUS_TS_NODE_MODE=none), with a control plane
// and node of their own (state dir and ports below).
const upgrade: Record<string, string> = {
  MULTUS_TS_NODE_MODE: "none",
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e-upgrade",
  MULTUS_TS_APISERVER_PORT: "19043",
  MULTUS_TS_ETCD_PORT: "14979",
  MULTUS_TS_KUBELET_PORT: "10850",
};
for (const [key, value] of Object.entries(upgrade)) process.env[key] = value;
await import("./upgrade-scenarios.ts");
