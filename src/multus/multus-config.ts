// The Multus configuration (the `type: "multus"` file in /etc/cni/net.d, also what the runtime sends
// on stdin). Keys and defaults follow upstream Multus (docs/configuration.md); validated once here.
import * as v from "valibot";
import { DEFAULT_DEVICE_CHECKPOINT, DEFAULT_DEVICE_INFO_DIR, DEFAULT_POD_RESOURCES_SOCKET } from "../devices/paths.ts";
import { MultusError } from "../util/multus-error.ts";
import { admitDelegateConfig, type DelegateConfig, type DelegatePolicy } from "../cni/delegate-config.ts";

export const DEFAULTS = {
  confDir: "/etc/cni/multus/net.d",
  cniDir: "/var/lib/cni/multus",
  binDir: "/opt/cni/bin",
  multusNamespace: "kube-system",
  systemNamespaces: ["kube-system"],
  globalNamespaces: "default",
  /**
   * Ours: one budget per operation (lock waits, readiness wait, API reads, every delegate, the status
   * patch), below the kubelet's 2-minute CRI deadline so that Multus answers before it is killed.
   */
  operationTimeoutSeconds: 90,
  /** Ours: undoing a failed ADD gets its own budget (the ADD's may be what ran out): 90 + 20 < 120. */
  rollbackTimeoutSeconds: 20,
} as const;

/**
 * Keys of the thin Multus config that are known: ours, upstream's (some accepted without effect, see
 * docs/compatibility.md), and those the runtime adds (CNI's own, libcni's GC keys).
 */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  "cniVersion", "cniVersions", "name", "type", "capabilities", "runtimeConfig", "prevResult", "args", "ipam", "dns",
  "cni.dev/valid-attachments", "cni.dev/attachments", "disableCheck", "disableGC",
  "delegates", "clusterNetwork", "defaultNetworks", "kubeconfig", "confDir", "cniDir", "binDir", "readinessindicatorfile",
  "namespaceIsolation", "globalNamespaces", "systemNamespaces", "multusNamespace", "logLevel", "logFile", "logToStderr",
  "logOptions", "auxiliaryCNIChainName", "retryDeleteOnError",
  "delegateTimeoutSeconds", "operationTimeoutSeconds", "rollbackTimeoutSeconds",
  // multus-shim's keys (the thick config, which the thin plugin reads when the shim hands it a DEL).
  "daemonSocketDir", "daemonReadyTimeoutSeconds",
  // Ours: where the kubelet and the device plugins keep their files (devices).
  "podResourcesSocket", "deviceCheckpointFile", "deviceInfoDir",
  // Ours: what networks of tenants' namespaces may run (src/cni/delegate-config.ts, docs/security.md).
  "delegatePolicy",
  // Ours: resolve Multus v1's `networks` annotation through kubernetes.com/v1 Network objects (docs/legacy-networks.md).
  "legacyNetworks",
  // Ours: "text" writes upstream's log line (`<time> [<level>] <message>`) instead of JSON.
  "logFormat",
]);

/** Keys of the CNI protocol itself: a daemon's config never overrides these in a request. */
export const PROTOCOL_KEYS: ReadonlySet<string> = new Set([
  "cniVersion", "cniVersions", "name", "type", "capabilities", "runtimeConfig", "prevResult", "args", "ipam", "dns",
  "cni.dev/valid-attachments", "cni.dev/attachments", "disableCheck", "disableGC",
]);

const stringList = v.array(v.string());
/** logLevel's values ("" = the default: error for the plugin, verbose for the daemon). */
const LOG_LEVELS: readonly string[] = ["debug", "verbose", "error", "panic", ""];
const delegateObject = v.looseObject({});
const nonEmptyStrings = v.array(v.pipe(v.string(), v.nonEmpty()));

const DelegatePolicySchema = v.strictObject({
  allowedTypes: v.optional(nonEmptyStrings),
  deniedTypes: v.optional(nonEmptyStrings),
  allowedHostPaths: v.optional(v.array(v.pipe(v.string(), v.startsWith("/", "a host path must be absolute"), v.check((p) => !p.split("/").some((s) => s === "." || s === ".."), 'a host path must not contain "." or ".." segments')))),
  trustedNamespaces: v.optional(nonEmptyStrings),
});

const MultusConfigSchema = v.looseObject({
  cniVersion: v.optional(v.string()),
  name: v.optional(v.string()),
  type: v.optional(v.string()),
  delegates: v.optional(v.array(delegateObject)),
  clusterNetwork: v.optional(v.string()),
  defaultNetworks: v.optional(stringList),
  kubeconfig: v.optional(v.string()),
  confDir: v.optional(v.string()),
  cniDir: v.optional(v.string()),
  binDir: v.optional(v.string()),
  readinessindicatorfile: v.optional(v.string()),
  namespaceIsolation: v.optional(v.boolean()),
  globalNamespaces: v.optional(v.string()),
  systemNamespaces: v.optional(stringList),
  multusNamespace: v.optional(v.string()),
  // Any string: upstream reads the level case-insensitively and only warns about one it does not know.
  logLevel: v.optional(v.string()),
  logFile: v.optional(v.string()),
  logToStderr: v.optional(v.boolean()),
  capabilities: v.optional(v.record(v.string(), v.boolean())),
  runtimeConfig: v.optional(v.record(v.string(), v.unknown())),
  auxiliaryCNIChainName: v.optional(v.string()),
  retryDeleteOnError: v.optional(v.boolean()),
  logOptions: v.optional(
    v.strictObject({
      maxAge: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      maxSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      maxBackups: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      compress: v.optional(v.boolean()),
    }),
  ),
  delegateTimeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  operationTimeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3600))),
  rollbackTimeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3600))),
  podResourcesSocket: v.optional(v.string()),
  deviceCheckpointFile: v.optional(v.string()),
  deviceInfoDir: v.optional(v.string()),
  delegatePolicy: v.optional(DelegatePolicySchema),
  legacyNetworks: v.optional(v.boolean()),
  logFormat: v.optional(v.string()),
});

/** lumberjack's rotation of `logFile`, with upstream Multus's defaults (100 MB, 5 backups, 5 days, gzip). */
export interface LogRotation {
  maxSizeMb: number;
  maxBackups: number;
  maxAgeDays: number;
  compress: boolean;
}

/** A delegate as Multus runs it: always a list (libcni turns a single conf into a one-plugin list). */
export interface Delegate {
  /** The network name used for the result cache and network-status. */
  name: string;
  delegate: DelegateConfig;
  /** `masterplugin: true` in config-file mode (upstream v1/v2 key). */
  master: boolean;
}

export interface MultusConfig {
  cniVersion: string;
  name: string;
  delegates: Delegate[];
  clusterNetwork: string | undefined;
  defaultNetworks: string[];
  kubeconfig: string | undefined;
  confDir: string;
  cniDir: string;
  binDir: string;
  readinessIndicatorFile: string | undefined;
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  systemNamespaces: string[];
  multusNamespace: string;
  logLevel: string;
  logFile: string | undefined;
  logToStderr: boolean;
  /** "json" (ours, the default) or "text" (upstream's `<time> [<level>] <message>` line). */
  logFormat: "json" | "text";
  runtimeConfig: Record<string, unknown>;
  logRotation: LogRotation;
  retryDeleteOnError: boolean;
  /** A cap per delegate execution, when set; every delegate is bounded by the operation's budget anyway. */
  delegateTimeoutMs: number | undefined;
  operationTimeoutMs: number;
  rollbackTimeoutMs: number;
  /** The kubelet's PodResources socket (devices of a pod). */
  podResourcesSocket: string;
  /** The kubelet device manager's checkpoint (when PodResources cannot answer). */
  deviceCheckpointFile: string;
  /** The device-info directory (device-info spec: /var/run/k8s.cni.cncf.io/devinfo). */
  deviceInfoDir: string;
  /** What networks of tenants' namespaces may run (delegatePolicy; docs/security.md). */
  delegatePolicy: DelegatePolicy;
  /** Resolve the legacy `networks` annotation through kubernetes.com/v1 Network objects (off by default). */
  legacyNetworks: boolean;
  /** Top-level keys nobody knows (warned about once per key, then ignored). */
  unknownKeys: string[];
  /** Values accepted with a warning (said once per process): an unknown logLevel, as upstream tolerates it. */
  warnings: string[];
}

/**
 * Validate a parsed Multus config. `source` names where it came from (a file path or "stdin") so
 * that every error says which file and which key to fix.
 */
export function parseMultusConfig(json: unknown, source: string): MultusConfig {
  const parsed = v.safeParse(MultusConfigSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const key = v.getDotPath(issue) ?? "(top level)";
    throw new MultusError("MULTUS_ERR_CONFIG", `invalid Multus config in ${source}: key "${key}": ${issue.message}`);
  }
  const c = parsed.output;
  const cniVersion = c.cniVersion ?? "";
  if (cniVersion === "") throw new MultusError("MULTUS_ERR_CONFIG", `invalid Multus config in ${source}: key "cniVersion" is required`);
  const name = c.name ?? "multus-cni-network";
  if ((c.delegates === undefined || c.delegates.length === 0) && c.clusterNetwork === undefined) {
    throw new MultusError(
      "MULTUS_ERR_CONFIG",
      `invalid Multus config in ${source}: set "clusterNetwork" or a non-empty "delegates" list`,
    );
  }
  if (nonEmpty(c.auxiliaryCNIChainName) !== undefined) {
    // Refused rather than ignored: a chain an operator relies on (upstream runs it after every pod's
    // networks) silently missing is worse than a config that says it cannot be honoured.
    throw new MultusError(
      "MULTUS_ERR_CONFIG",
      `invalid Multus config in ${source}: key "auxiliaryCNIChainName" (upstream's auxiliary chain of the files in a subdirectory of the cluster network's directory) is not implemented by Multus-TS; remove it, or chain those plugins in the cluster network's conflist (docs/compatibility.md)`,
    );
  }
  const multusNamespace = nonEmpty(c.multusNamespace) ?? DEFAULTS.multusNamespace;
  const warnings: string[] = [];
  const level = (c.logLevel ?? "").trim().toLowerCase();
  const logLevel = LOG_LEVELS.includes(level) ? level : "";
  if (logLevel !== level) {
    warnings.push(`${source}: key "logLevel": ${JSON.stringify(c.logLevel)} is not a level Multus knows (debug, verbose, error, panic; any case): the default applies`);
  }
  const format = (c.logFormat ?? "").trim().toLowerCase();
  const logFormat = format === "text" ? "text" : "json";
  if (format !== "" && format !== logFormat) {
    warnings.push(`${source}: key "logFormat": ${JSON.stringify(c.logFormat)} is not a format Multus knows ("json", "text"; any case): JSON applies`);
  }
  const delegatePolicy: DelegatePolicy = {
    allowedTypes: c.delegatePolicy?.allowedTypes,
    deniedTypes: c.delegatePolicy?.deniedTypes ?? [],
    allowedHostPaths: c.delegatePolicy?.allowedHostPaths ?? [],
    trustedNamespaces: c.delegatePolicy?.trustedNamespaces ?? [multusNamespace],
  };
  const delegates = (c.delegates ?? []).map((d, i) => toDelegate(d, i, cniVersion, source, delegatePolicy));
  if (delegates.filter((d) => d.master).length > 1) {
    throw new MultusError("MULTUS_ERR_CONFIG", `invalid Multus config in ${source}: key "delegates": more than one delegate has "masterplugin": true`);
  }
  const names = new Set<string>();
  for (const d of delegates) {
    if (names.has(d.name)) {
      throw new MultusError("MULTUS_ERR_CONFIG", `invalid Multus config in ${source}: key "delegates": two delegates are named "${d.name}"; give each a unique "name"`);
    }
    names.add(d.name);
  }
  return {
    cniVersion,
    name,
    delegates,
    clusterNetwork: c.clusterNetwork,
    defaultNetworks: c.defaultNetworks ?? [],
    kubeconfig: nonEmpty(c.kubeconfig),
    confDir: nonEmpty(c.confDir) ?? DEFAULTS.confDir,
    cniDir: nonEmpty(c.cniDir) ?? DEFAULTS.cniDir,
    binDir: nonEmpty(c.binDir) ?? DEFAULTS.binDir,
    readinessIndicatorFile: nonEmpty(c.readinessindicatorfile),
    namespaceIsolation: c.namespaceIsolation ?? false,
    globalNamespaces: splitList(c.globalNamespaces ?? DEFAULTS.globalNamespaces),
    systemNamespaces: c.systemNamespaces ?? [...DEFAULTS.systemNamespaces],
    multusNamespace,
    logLevel,
    logFile: nonEmpty(c.logFile),
    logToStderr: c.logToStderr ?? true,
    logFormat,
    runtimeConfig: c.runtimeConfig ?? {},
    logRotation: {
      // lumberjack: a maxSize of 0 means its default, 100 MB; 0 backups or days mean no limit.
      maxSizeMb: c.logOptions?.maxSize === undefined || c.logOptions.maxSize === 0 ? 100 : c.logOptions.maxSize,
      maxBackups: c.logOptions?.maxBackups ?? 5,
      maxAgeDays: c.logOptions?.maxAge ?? 5,
      compress: c.logOptions?.compress ?? true,
    },
    retryDeleteOnError: c.retryDeleteOnError ?? false,
    delegateTimeoutMs: c.delegateTimeoutSeconds === undefined ? undefined : c.delegateTimeoutSeconds * 1000,
    operationTimeoutMs: (c.operationTimeoutSeconds ?? DEFAULTS.operationTimeoutSeconds) * 1000,
    rollbackTimeoutMs: (c.rollbackTimeoutSeconds ?? DEFAULTS.rollbackTimeoutSeconds) * 1000,
    podResourcesSocket: nonEmpty(c.podResourcesSocket) ?? DEFAULT_POD_RESOURCES_SOCKET,
    deviceCheckpointFile: nonEmpty(c.deviceCheckpointFile) ?? DEFAULT_DEVICE_CHECKPOINT,
    deviceInfoDir: nonEmpty(c.deviceInfoDir) ?? DEFAULT_DEVICE_INFO_DIR,
    delegatePolicy,
    legacyNetworks: c.legacyNetworks ?? false,
    unknownKeys: Object.keys(c).filter((k) => !KNOWN_KEYS.has(k)).sort(),
    warnings,
  };
}

function toDelegate(raw: Record<string, unknown>, index: number, multusVersion: string, source: string, policy: DelegatePolicy): Delegate {
  const master = raw["masterplugin"] === true;
  // `masterplugin` is Multus's own key, not the delegate's: the plugin never sees it.
  const { masterplugin: _drop, ...conf } = raw;
  // Delegates in config-file mode often have no name (upstream's examples); a stable derived name
  // keeps the result-cache key identical between ADD and a DEL rebuilt from the same file.
  const plugins = conf["plugins"];
  const first = Array.isArray(plugins) ? (plugins[0] as Record<string, unknown> | undefined)?.["type"] : conf["type"];
  const fallbackName = `${typeof first === "string" && first !== "" ? first : "delegate"}-${String(index)}`;
  const list = admitDelegateConfig(conf, {
    source: { kind: "admin", where: `invalid Multus config in ${source}: key "delegates.${String(index)}"` },
    policy,
    defaultCniVersion: multusVersion,
    fallbackName,
  });
  return { name: list.name, delegate: list, master };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function splitList(s: string): string[] {
  return s.split(",").map((x) => x.trim()).filter((x) => x !== "");
}
