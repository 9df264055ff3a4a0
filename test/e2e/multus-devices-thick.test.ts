// The device scenarios (multus-devices.test.ts: seed 000's SR-IOV and DPDK pods, seed 001's DRA claims)
// with thick mode as the node's CNI: the real multus-daemon resolves the devices (PodResources, DRA
// claims through the API) and runs the delegates; containerd execs multus-shim (thick-env.ts).
import "./thick-env.ts";
await import("./multus-devices.test.ts");
