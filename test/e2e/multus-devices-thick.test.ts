// The device scenarios (multus-devices.test.ts: seed 000's SR-IOV and DPDK pods, seed 001's DRA claims)
// with thick mode as the node's CNI: the real multus-daemon resolves the devices (PodResources, DRA
// claims through the API) and runs the delegates; containerd execs multus-shim. Its own control plane
// and node, as multus-node-thick.test.ts.
const thick: Record<string, string> = {
  MULTUS_TS_NODE_MODE: "thick",
  MULTUS_TS_CLUSTER_DIR: "/tmp/multus-ts-e2e-thick",
  MULTUS_TS_APISERVER_PORT: "18543",
  MULTUS_TS_ETCD_PORT: "14479",
  MULTUS_TS_KUBELET_PORT: "10350",
};
for (const [key, value] of Object.entries(thick)) process.env[key] = value;
await import("./multus-devices.test.ts");
