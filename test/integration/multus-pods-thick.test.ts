// The pod scenario suite (multus-pods.test.ts) in thick mode: the runtime's calls go to the real
// dist/bin/multus-shim, which forwards them over the unix socket to a real dist/bin/multus-daemon
// (informers on the real kube-apiserver) started per test in the node namespace (test/helpers/kube-bed.ts).
// One suite, the same assertions, both modes.
process.env["MULTUS_TS_MODE"] = "thick";
await import("./multus-pods.test.ts");
