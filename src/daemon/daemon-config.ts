// The daemon's config file (upstream: /etc/cni/net.d/multus.d/daemon-config.json). Three kinds of key:
//   - the daemon's own (socketDir, metricsPort, connectionLimit, …), read here and nowhere else;
//   - the config generator's (cniVersion, multusConfigFile, multusAutoconfigDir, cniConfigDir, …);
//   - any key of the thin Multus config (kubeconfig, cniDir, namespaceIsolation, logLevel, …): as in
//     upstream, these override the same keys of every request's config, and the generated
//     00-multus.conf carries them so that a DEL run on the host without the daemon sees the same config.
// Unknown keys are warned about (once each) and ignored. Errors name the file and the key.
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { isRecord } from "../cni/is-record.ts";
import { KNOWN_KEYS as THIN_KEYS, PROTOCOL_KEYS } from "../multus/multus-config.ts";
import { MultusError } from "../util/multus-error.ts";

export const DEFAULT_DAEMON_CONFIG = "/etc/cni/net.d/multus.d/daemon-config.json";

/** The daemon's own keys: never merged into a request's config, never written into 00-multus.conf. */
const DAEMON_KEYS = [
  "chrootDir", "socketDir", "metricsPort", "metricsAddress", "enablePprof", "connectionLimit", "queueLimit", "perNodeCertificate",
  "informerStaleSeconds",
] as const;
/** The generator's keys (upstream strips them from the generated file too). */
const GENERATOR_KEYS = ["multusConfigFile", "multusAutoconfigDir", "multusMasterCNI", "cniConfigDir", "forceCNIVersion", "overrideNetworkName"] as const;

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

const DaemonConfigSchema = v.looseObject({
  chrootDir: v.optional(v.string()),
  socketDir: v.optional(v.pipe(v.string(), v.nonEmpty())),
  metricsPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))),
  metricsAddress: v.optional(v.string()),
  enablePprof: v.optional(v.boolean()),
  connectionLimit: v.optional(positiveInt),
  queueLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  perNodeCertificate: v.optional(v.looseObject({ enabled: v.optional(v.boolean()) })),
  informerStaleSeconds: v.optional(positiveInt),
  cniVersion: v.optional(v.string()),
  multusConfigFile: v.optional(v.string()),
  multusAutoconfigDir: v.optional(v.string()),
  multusMasterCNI: v.optional(v.string()),
  cniConfigDir: v.optional(v.string()),
  forceCNIVersion: v.optional(v.boolean()),
  overrideNetworkName: v.optional(v.boolean()),
  capabilities: v.optional(v.record(v.string(), v.boolean())),
  readinessindicatorfile: v.optional(v.string()),
});

export interface DaemonConfig {
  /** Where it was read from (errors and logs name it). */
  source: string;
  socketDir: string;
  /** Delegates run chrooted here (the host's root mounted into the daemon's container); undefined: no chroot. */
  chrootDir: string | undefined;
  /** The Prometheus listener; undefined: none (metrics are also served on the socket at /metrics). */
  metricsPort: number | undefined;
  metricsAddress: string;
  /** Requests executing at once (upstream's key; ours counts requests, not connections). */
  connectionLimit: number;
  /** Requests waiting for a slot; beyond it a request gets CNI error 11 (try again later). */
  queueLimit: number;
  informerStaleMs: number;
  /** "auto": generate 00-multus.conf from the master CNI config; a path: copy that file; "" (absent): auto. */
  multusConfigFile: string;
  /** Where the master CNI config is looked for. */
  multusAutoconfigDir: string;
  /** Where 00-multus.conf is written. */
  cniConfigDir: string;
  /** A fixed master config file name in multusAutoconfigDir; undefined: the alphabetically first. */
  multusMasterCNI: string | undefined;
  /** Of the generated config; undefined: the master's. */
  cniVersion: string | undefined;
  forceCNIVersion: boolean;
  overrideNetworkName: boolean;
  /** Capabilities the generated config declares besides the master's. */
  capabilities: Record<string, boolean>;
  readinessIndicatorFile: string | undefined;
  /** Thin Multus keys: merged over every request's config and written into 00-multus.conf. */
  overrides: Record<string, unknown>;
  /** Keys upstream has that we accept without effect (warned once at start-up). */
  ignoredKeys: string[];
  unknownKeys: string[];
}

export function loadDaemonConfig(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `cannot read the daemon config ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MultusError("MULTUS_ERR_CONFIG", `the daemon config ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseDaemonConfig(json, path);
}

export function parseDaemonConfig(json: unknown, source: string): DaemonConfig {
  if (!isRecord(json)) throw new MultusError("MULTUS_ERR_CONFIG", `the daemon config ${source} must be a JSON object`);
  const parsed = v.safeParse(DaemonConfigSchema, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new MultusError("MULTUS_ERR_CONFIG", `invalid daemon config in ${source}: key "${v.getDotPath(issue) ?? "(top level)"}": ${issue.message}`);
  }
  const c = parsed.output;
  const cniConfigDir = nonEmpty(c.cniConfigDir) ?? "/etc/cni/net.d";
  const connectionLimit = c.connectionLimit ?? 32;
  const own = new Set<string>([...DAEMON_KEYS, ...GENERATOR_KEYS]);
  const overrides: Record<string, unknown> = {};
  const unknownKeys: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (own.has(key) || key === "cniVersion" || key === "capabilities") continue;
    if (PROTOCOL_KEYS.has(key)) unknownKeys.push(key);
    else if (THIN_KEYS.has(key)) overrides[key] = value;
    else unknownKeys.push(key);
  }
  const ignoredKeys: string[] = [];
  if (c.enablePprof === true) ignoredKeys.push("enablePprof");
  if (c.perNodeCertificate?.enabled === true) ignoredKeys.push("perNodeCertificate");
  // Delegates get their own cniVersion; the primary's file is never rewritten.
  if (c.forceCNIVersion === true) ignoredKeys.push("forceCNIVersion");
  return {
    source,
    socketDir: c.socketDir ?? "/run/multus",
    chrootDir: nonEmpty(c.chrootDir) === "/" ? undefined : nonEmpty(c.chrootDir),
    metricsPort: c.metricsPort,
    metricsAddress: c.metricsAddress ?? "0.0.0.0",
    connectionLimit,
    queueLimit: c.queueLimit ?? 256,
    informerStaleMs: (c.informerStaleSeconds ?? 150) * 1000,
    multusConfigFile: nonEmpty(c.multusConfigFile) ?? "auto",
    multusAutoconfigDir: nonEmpty(c.multusAutoconfigDir) ?? cniConfigDir,
    cniConfigDir,
    multusMasterCNI: nonEmpty(c.multusMasterCNI),
    cniVersion: nonEmpty(c.cniVersion),
    forceCNIVersion: c.forceCNIVersion ?? false,
    overrideNetworkName: c.overrideNetworkName ?? false,
    capabilities: c.capabilities ?? {},
    readinessIndicatorFile: nonEmpty(c.readinessindicatorfile),
    overrides,
    ignoredKeys,
    unknownKeys: unknownKeys.sort(),
  };
}

/** A request's config with the daemon's thin keys laid over it (upstream's override semantics). */
export function withOverrides(requestConfig: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  return { ...requestConfig, ...overrides };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}
