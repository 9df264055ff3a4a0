// Multus-TS on two nodes of one cluster, installed the way users install it (two-nodes-scenarios.ts):
// both nodes start without Multus (test/cluster/node/node.sh, MULTUS_TS_NODE_MODE=none), on a
// control plane and nodes of their own (state dir and ports below).
const twoNodes: Record<string, string> = {
  MULTUS_TS_NODE_MODE: "none",
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e-two-nodes",
  MULTUS_TS_APISERVER_PORT: "18943",
  MULTUS_TS_ETCD_PORT: "14879",
  MULTUS_TS_KUBELET_PORT: "10750",
};
for (const [key, value] of Object.entries(twoNodes)) process.env[key] = value;
await import("./two-nodes-scenarios.ts");
