// The legacy Network suite (multus-legacy-networks.test.ts) in thick mode: dist/bin/multus-shim
// forwarding to a real dist/bin/multus-daemon whose daemon config sets "legacyNetworks": true.
process.env["MULTUS_TS_MODE"] = "thick";
await import("./multus-legacy-networks.test.ts");
