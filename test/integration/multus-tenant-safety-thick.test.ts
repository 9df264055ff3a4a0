// The tenant-safety suite (multus-tenant-safety.test.ts) in thick mode: dist/bin/multus-shim forwarding
// to a real dist/bin/multus-daemon (informers on the real kube-apiserver); the same assertions, plus
// what only the daemon has (the hot-plug socket, metrics).
process.env["MULTUS_TS_MODE"] = "thick";
await import("./multus-tenant-safety.test.ts");
