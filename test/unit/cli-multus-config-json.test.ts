// multusctl diagnose --repair hands the engine the Multus config rebuilt from the parsed one
// (src/cli/multus-config-json.ts): parsed again, it must give the same config, key by key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { multusConfigJson } from "../../src/cli/multus-config-json.ts";
import { parseMultusConfig, type MultusConfig } from "../../src/multus/multus-config.ts";

/** The config without its admitted delegate objects (compared through their lists). */
function comparable(c: MultusConfig): unknown {
  return { ...c, delegates: c.delegates.map((d) => ({ name: d.name, master: d.master, list: d.delegate.list })) };
}

const cases: Record<string, Record<string, unknown>> = {
  "defaults with a clusterNetwork": { cniVersion: "1.0.0", type: "multus", clusterNetwork: "cluster-net" },
  "every key set": {
    cniVersion: "0.4.0", name: "multus-x", type: "multus", clusterNetwork: "c", defaultNetworks: ["d1", "d2"], kubeconfig: "/etc/k", confDir: "/c", cniDir: "/s",
    binDir: "/b", readinessindicatorfile: "/r", namespaceIsolation: true, globalNamespaces: "a,b", systemNamespaces: ["kube-system", "x"], multusNamespace: "m",
    logLevel: "debug", logFile: "/l", logToStderr: false, runtimeConfig: { portMappings: [] }, logOptions: { maxSize: 7, maxBackups: 2, maxAge: 3, compress: false },
    retryDeleteOnError: true, delegateTimeoutSeconds: 9, operationTimeoutSeconds: 60, rollbackTimeoutSeconds: 11, podResourcesSocket: "/p", deviceCheckpointFile: "/k",
    deviceInfoDir: "/dev-info", delegatePolicy: { allowedTypes: ["bridge"], deniedTypes: ["x"], allowedHostPaths: ["/var/"], trustedNamespaces: ["t"] }, legacyNetworks: true,
  },
  "config-file mode with a master delegate": {
    cniVersion: "1.0.0", type: "multus", delegates: [{ name: "a", type: "bridge" }, { name: "b", type: "ptp", masterplugin: true }],
  },
};

for (const [name, raw] of Object.entries(cases)) {
  test(`multusConfigJson round-trips: ${name}`, () => {
    const parsed = parseMultusConfig(raw, "test");
    const again = parseMultusConfig(multusConfigJson(parsed), "test");
    assert.deepEqual(comparable(again), comparable(parsed));
  });
}
