// The Multus config as the runtime hands it to the plugin, rebuilt from the parsed config: what
// `diagnose --repair` puts on the engine's stdin for a DEL. The engine reads nothing but the parsed
// MultusConfig, so writing every field of it back gives a config the engine parses into the same
// values (a unit test round-trips it). The mapping is typed over every key of MultusConfig: a key
// added there and forgotten here does not compile.
import type { MultusConfig } from "../multus/multus-config.ts";

export function multusConfigJson(c: MultusConfig): Record<string, unknown> {
  const fields: { [K in keyof MultusConfig]: [string, unknown] | undefined } = {
    cniVersion: ["cniVersion", c.cniVersion],
    name: ["name", c.name],
    delegates: c.delegates.length === 0 ? undefined : ["delegates", c.delegates.map((d) => ({ ...d.delegate.list, ...(d.master ? { masterplugin: true } : {}) }))],
    clusterNetwork: c.clusterNetwork === undefined ? undefined : ["clusterNetwork", c.clusterNetwork],
    defaultNetworks: ["defaultNetworks", c.defaultNetworks],
    kubeconfig: c.kubeconfig === undefined ? undefined : ["kubeconfig", c.kubeconfig],
    confDir: ["confDir", c.confDir],
    cniDir: ["cniDir", c.cniDir],
    binDir: ["binDir", c.binDir],
    readinessIndicatorFile: c.readinessIndicatorFile === undefined ? undefined : ["readinessindicatorfile", c.readinessIndicatorFile],
    namespaceIsolation: ["namespaceIsolation", c.namespaceIsolation],
    globalNamespaces: ["globalNamespaces", c.globalNamespaces.join(",")],
    systemNamespaces: ["systemNamespaces", c.systemNamespaces],
    multusNamespace: ["multusNamespace", c.multusNamespace],
    logLevel: c.logLevel === "" ? undefined : ["logLevel", c.logLevel],
    logFile: c.logFile === undefined ? undefined : ["logFile", c.logFile],
    logToStderr: ["logToStderr", c.logToStderr],
    logFormat: ["logFormat", c.logFormat],
    runtimeConfig: ["runtimeConfig", c.runtimeConfig],
    logRotation: ["logOptions", { maxSize: c.logRotation.maxSizeMb, maxBackups: c.logRotation.maxBackups, maxAge: c.logRotation.maxAgeDays, compress: c.logRotation.compress }],
    retryDeleteOnError: ["retryDeleteOnError", c.retryDeleteOnError],
    delegateTimeoutMs: c.delegateTimeoutMs === undefined ? undefined : ["delegateTimeoutSeconds", Math.ceil(c.delegateTimeoutMs / 1000)],
    operationTimeoutMs: ["operationTimeoutSeconds", Math.ceil(c.operationTimeoutMs / 1000)],
    rollbackTimeoutMs: ["rollbackTimeoutSeconds", Math.ceil(c.rollbackTimeoutMs / 1000)],
    podResourcesSocket: ["podResourcesSocket", c.podResourcesSocket],
    deviceCheckpointFile: ["deviceCheckpointFile", c.deviceCheckpointFile],
    deviceInfoDir: ["deviceInfoDir", c.deviceInfoDir],
    delegatePolicy: [
      "delegatePolicy",
      {
        ...(c.delegatePolicy.allowedTypes === undefined ? {} : { allowedTypes: c.delegatePolicy.allowedTypes }),
        deniedTypes: c.delegatePolicy.deniedTypes,
        allowedHostPaths: c.delegatePolicy.allowedHostPaths,
        trustedNamespaces: c.delegatePolicy.trustedNamespaces,
      },
    ],
    legacyNetworks: ["legacyNetworks", c.legacyNetworks],
    // Unknown keys were ignored by the engine; they stay out.
    unknownKeys: undefined,
    // Said when the config was read; a level it did not know is already "" (the default).
    warnings: undefined,
  };
  const out: Record<string, unknown> = { type: "multus" };
  for (const f of Object.values(fields)) if (f !== undefined) out[f[0]] = f[1];
  return out;
}
