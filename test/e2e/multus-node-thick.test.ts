// The real-node scenarios (multus-node.test.ts) with thick mode as the node's CNI: the node runs the
// real dist/bin/multus-daemon, which writes 00-multus.conflist in front of the bridge conflist, and
// containerd execs dist/bin/multus-shim (thick-env.ts: a control plane and node of their own).
import "./thick-env.ts";
await import("./multus-node.test.ts");
