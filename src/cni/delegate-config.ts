// The one model of a delegate's network configuration, and the one gate every delegate config passes
// before Multus runs it (docs/security.md). Whatever the origin — the Multus config's `delegates`, a
// clusterNetwork/defaultNetworks file, a NetworkAttachmentDefinition, a pod's selection applied to
// one, a hot-plug request, a record written by an earlier Multus — a CNI config (conf or conflist)
// becomes a DelegateConfig here and nowhere else: normalised (a conf is a one-plugin list, name and
// cniVersion filled in), checked with the conflist runner's own parser (so what would fail at ADD
// fails now, naming its source), admitted by the policy, and parsed once into the form the runner
// runs. Nothing else can make one: the type is branded, eslint.config.js forbids casting to it, and
// the runner adapter checks at run time that the object is one this module made (a registry, not a
// property a copy could carry), so the engine's DelegateRunner can only ever run what passed here.
//
// Exported API:
//   type DelegateSource               where a config came from (admin, nad, annotation, hotplug, record)
//   interface DelegatePolicy          the Multus config's `delegatePolicy`, resolved
//   defaultDelegatePolicy(multusNamespace): DelegatePolicy
//   MULTUS_EXECUTABLES                Multus's own programs: never a delegate
//   DELEGATE_MARKER_ENV               set in every delegate's environment; multus refuses to run under it
//   admitDelegateConfig(raw, { source, policy, defaultCniVersion?, fallbackName? }): DelegateConfig
//   reviseDelegateConfig(config, revise, { policy, source? }): DelegateConfig   (a selection's device)
//   withCniArgs(config, cniArgs, { policy, source? }): DelegateConfig          NPWG-11, revised the same way
//   restoreDelegateConfig(raw, source, { defaultCniVersion?, fallbackName? }?): DelegateConfig
//                                     a record of an earlier ADD (our journal, upstream's scratch cache)
//   isAdmitted(x): x is DelegateConfig
//   describeSource(source): string
//   class DelegateConfigError (a CniError with `errorCode`: MULTUS_ERR_CONFIG, _NAD_CONFIG, _DELEGATE_REFUSED)
//
// The policy (docs/security.md has the threat model):
//   1. Always, whatever the source: no plugin `type` anywhere in the config (a plugin, its `ipam`, a
//      meta-plugin's nested `delegate`, …) is one of Multus's own executables, or holds a path. A nested multus would
//      take binDir, cniDir, kubeconfig and logFile from the config that names it, multus-shim its
//      daemonSocketDir: the config's author would choose the programs, files and socket the node uses.
//   2. For configs a tenant can make the node run — a NAD outside `trustedNamespaces` (its spec.config,
//      or the confDir file it names), a selection applied to one, a hot-plug request — every plugin
//      and IPAM type must be allowed (`allowedTypes`, default any; never one of `deniedTypes`).
//   3. For configs a tenant wrote (spec.config of such a NAD, a hot-plug request; a nested `delegate`
//      counts as a plugin): the keys of the plugins this Multus knows that name a host file, directory
//      or socket (HOST_PATH_KEYS) must hold an absolute path without "." or ".." inside one of
//      `allowedHostPaths`; no `runtimeConfig` or `prevResult` (the runtime's, and forged in a stored
//      config); no raw firewall arguments or chains (FIREWALL_KEYS); tuning's sysctls only `net.*`.
//   Records (our journal, upstream's scratch cache) are what an earlier ADD ran: only rule 1 applies, so
//   a policy made stricter since does not turn a DEL into a leak.
import { CniCode, CniError } from "./cni-error.ts";
import { parseNetworkConfigList, type NetworkConfigList } from "./conflist-runner.ts";
import { isRecord } from "./is-record.ts";
import { validateNetworkName } from "./plugin-env.ts";
import type { NetConf, NetConfList } from "./types.ts";
import { IMPLICIT_VERSION, isSpecVersion, LATEST_VERSION, selectConfVersion } from "./version.ts";

/**
 * Multus's programs (ours, and upstream's names for theirs): none of them is a CNI plugin a network
 * may run. `passthru` and `vfioveth` are plugins (they read nothing but their own config).
 */
export const MULTUS_EXECUTABLES: readonly string[] = [
  "multus", "multus-shim", "multus-daemon", "multus-install", "multusctl",
  "install_multus", "thin_entrypoint", "kubeconfig_generator", "cert-approver",
];

/**
 * In the environment of every delegate Multus runs (and so of whatever it runs in turn): a multus
 * started with it refuses to work, whatever name it was started under (docs/security.md).
 */
export const DELEGATE_MARKER_ENV = "MULTUS_TS_DELEGATE_OF";

export type DelegateSource =
  /** Written by the node's administrator: the Multus config's `delegates`, a clusterNetwork/defaultNetworks file. */
  | { kind: "admin"; where: string }
  /**
   * A NetworkAttachmentDefinition: its spec.config, or (`file`) the confDir file its name selects; with
   * `legacy`, Multus v1's kubernetes.com/v1 Network object (its `args`), a tenant's object alike.
   */
  | { kind: "nad"; namespace: string; name: string; file?: string; legacy?: true }
  /** A NAD's config as a pod's selection changed it (`cni-args`, a device). */
  | { kind: "annotation"; namespace: string; name: string; file?: string; pod: string }
  /** The daemon's /delegate (hot-plug): the config the caller sent. */
  | { kind: "hotplug"; where: string }
  /** A record of an earlier ADD: our journal, upstream Go Multus's scratch cache. */
  | { kind: "record"; where: string };

export interface DelegatePolicy {
  /** Plugin and IPAM types a tenant's config may run; undefined: any (but Multus's own). */
  allowedTypes: readonly string[] | undefined;
  /** Types a tenant's config may never run (besides Multus's own). */
  deniedTypes: readonly string[];
  /**
   * Files, and directories (ending in "/"), a tenant-written config may name in any host-path key
   * (besides each key's plugin default, KEY_DEFAULT_PATHS) and in any other string that is a path.
   */
  allowedHostPaths: readonly string[];
  /** Namespaces whose NADs are the administrator's: rules 2 and 3 do not apply to them. */
  trustedNamespaces: readonly string[];
}

export function defaultDelegatePolicy(multusNamespace: string): DelegatePolicy {
  return { allowedTypes: undefined, deniedTypes: [], allowedHostPaths: [], trustedNamespaces: [multusNamespace] };
}

/** The type's brand (no value: the registry below is what proves an object passed the gate). */
declare const ADMITTED: unique symbol;

/** Every config this module made; a copy, a spread or a parsed JSON of one is not in it. */
const admitted = new WeakSet<object>();

/** A delegate config that passed the gate: immutable, and the only thing the engine runs. */
export interface DelegateConfig {
  readonly [ADMITTED]: true;
  readonly source: DelegateSource;
  /** The network's CNI name (result cache, GC). */
  readonly name: string;
  readonly plugins: readonly NetConf[];
  /** The normalised list as JSON would carry it (journals record this). */
  readonly list: Readonly<NetConfList>;
  /** Parsed once for the runner: the effective version, and the exact bytes it caches. */
  readonly runnable: NetworkConfigList;
}

export type DelegateErrorCode = "MULTUS_ERR_CONFIG" | "MULTUS_ERR_NAD_CONFIG" | "MULTUS_ERR_DELEGATE_REFUSED";

/** What the gate raises; `errorCode` is the catalogue's (src/util/multus-error.ts, docs/errors.md). */
export class DelegateConfigError extends CniError {
  readonly errorCode: DelegateErrorCode;

  constructor(errorCode: DelegateErrorCode, msg: string) {
    super(CniCode.InvalidNetworkConfig, msg, errorCode);
    this.name = "DelegateConfigError";
    this.errorCode = errorCode;
  }
}

export interface AdmitOptions {
  source: DelegateSource;
  policy: DelegatePolicy;
  /** cniVersion for a config that names none: the Multus config's; else 0.1.0 (what skel assumes). */
  defaultCniVersion?: string;
  /** The name of a config without one: the NAD's (NPWG-03) or one the Multus config derives. */
  fallbackName?: string;
}

export function describeSource(s: DelegateSource): string {
  switch (s.kind) {
    case "admin":
      return s.where;
    case "nad":
      if (s.legacy === true) return `Network ${s.namespace}/${s.name} (kubernetes.com/v1): plugin/args`;
      return `NetworkAttachmentDefinition ${s.namespace}/${s.name}: ${s.file === undefined ? "spec.config" : `config file ${s.file}`}`;
    case "annotation":
      return `NetworkAttachmentDefinition ${s.namespace}/${s.name} as selected by pod ${s.pod}: ${s.file === undefined ? "spec.config" : `config file ${s.file}`}`;
    case "hotplug":
      return s.where;
    case "record":
      return s.where;
  }
}

/** Normalise, check and admit a parsed CNI config (conf or conflist). */
export function admitDelegateConfig(raw: unknown, o: AdmitOptions): DelegateConfig {
  const list = normalise(cloneJson(raw, o.source), o);
  return seal(list, o.source, o.policy, rulesFor(o.source, o.policy));
}

/** A changed copy of an admitted config (a selection's cni-args, a device ID), admitted again. */
export function reviseDelegateConfig(config: DelegateConfig, revise: (list: NetConfList) => NetConfList, o: { policy: DelegatePolicy; source?: DelegateSource }): DelegateConfig {
  const source = o.source ?? config.source;
  const list = revise(structuredClone(config.list));
  return seal(normalise(list, { source }), source, o.policy, rulesFor(source, o.policy));
}

/**
 * NPWG-11: `cni-args` (a pod's selection, a hot-plug request's attributes) merged into every plugin's
 * `args.cni`, the caller's keys winning; the result passes the gate again, as `source` when given.
 */
export function withCniArgs(config: DelegateConfig, cniArgs: Readonly<Record<string, unknown>>, o: { policy: DelegatePolicy; source?: DelegateSource }): DelegateConfig {
  return reviseDelegateConfig(
    config,
    (list) => ({
      ...list,
      plugins: list.plugins.map((p): NetConf => {
        // A hand-written config may carry anything in `args`.
        const args: Record<string, unknown> = isRecord(p.args) ? p.args : {};
        const cni = isRecord(args["cni"]) ? args["cni"] : {};
        return { ...p, args: { ...args, cni: { ...cni, ...cniArgs } } };
      }),
    }),
    o,
  );
}

/** A config from a record of an earlier ADD (only Multus's own executables are refused: see the header). */
export function restoreDelegateConfig(raw: unknown, source: DelegateSource, o: Pick<AdmitOptions, "defaultCniVersion" | "fallbackName"> = {}): DelegateConfig {
  const policy = defaultDelegatePolicy("");
  const copy = cloneJson(raw, source);
  // What ran then: a list that kept a stray top-level "type" ran its plugins (earlier releases and
  // upstream let "plugins" win), so its record does too.
  if (isRecord(copy) && Array.isArray(copy["plugins"]) && "type" in copy) delete copy["type"];
  return seal(normalise(copy, { ...o, source }), source, policy, { types: false, hostPaths: false });
}

export function isAdmitted(x: unknown): x is DelegateConfig {
  return typeof x === "object" && x !== null && admitted.has(x);
}

interface Rules {
  /** Rule 2: allowed and denied types. */
  types: boolean;
  /** Rule 3: host paths and sysctls of tenant-written content. */
  hostPaths: boolean;
}

function rulesFor(s: DelegateSource, policy: DelegatePolicy): Rules {
  switch (s.kind) {
    case "admin":
    case "record":
      return { types: false, hostPaths: false };
    case "hotplug":
      return { types: true, hostPaths: true };
    case "nad":
    case "annotation": {
      if (policy.trustedNamespaces.includes(s.namespace)) return { types: false, hostPaths: false };
      // A confDir file is the administrator's text, but the tenant chose to run it.
      return { types: true, hostPaths: s.file === undefined };
    }
  }
}

function invalid(source: DelegateSource, what: string): DelegateConfigError {
  const code: DelegateErrorCode = source.kind === "nad" || source.kind === "annotation" ? "MULTUS_ERR_NAD_CONFIG" : "MULTUS_ERR_CONFIG";
  return new DelegateConfigError(code, `${describeSource(source)} ${what}`);
}

function refused(source: DelegateSource, what: string): DelegateConfigError {
  return new DelegateConfigError("MULTUS_ERR_DELEGATE_REFUSED", `${describeSource(source)} ${what}`);
}

const q = (s: string): string => JSON.stringify(s);

/** Deep enough for any real config; deeper input is refused rather than walked (the walk is iterative anyway). */
const MAX_DEPTH = 64;

function normalise(raw: unknown, o: Pick<AdmitOptions, "source" | "defaultCniVersion" | "fallbackName">): NetConfList {
  const fail = (what: string): DelegateConfigError => invalid(o.source, what);
  if (!isRecord(raw)) throw fail('is not a JSON object; give a CNI config (with "type") or config list (with "plugins")');
  const hasType = "type" in raw;
  const hasPlugins = "plugins" in raw;
  if (hasType && hasPlugins) throw fail('has both "type" and "plugins"; a config is either one plugin or a list, not both');
  if (!hasType && !hasPlugins) throw fail('has neither "type" (a CNI config) nor "plugins" (a config list); add one');
  if (raw.name !== undefined && raw.name !== null && typeof raw.name !== "string") throw fail('"name" must be a string');
  if (raw.cniVersion !== undefined && typeof raw.cniVersion !== "string") throw fail('"cniVersion" must be a string');
  // NPWG-03: a missing name is the NAD's; an empty name counts as missing (nad-client).
  const name = typeof raw.name === "string" && raw.name !== "" ? raw.name : o.fallbackName;
  if (name === undefined) throw fail('has no "name"; add the network name');
  const hasVersions = Array.isArray(raw.cniVersions) && raw.cniVersions.length > 0;
  const cniVersion = typeof raw.cniVersion === "string" && raw.cniVersion !== "" ? raw.cniVersion : undefined;
  let list: NetConfList;
  if (hasPlugins) {
    if (!Array.isArray(raw.plugins)) throw fail('"plugins" must be a list of plugin configs');
    list = { ...raw, name, plugins: raw.plugins as NetConf[] };
    if (cniVersion === undefined) {
      if (hasVersions) delete list.cniVersion;
      else list.cniVersion = o.defaultCniVersion ?? IMPLICIT_VERSION;
    }
  } else {
    // libcni ConfListFromConf: the list carries the conf's name and cniVersion; a conf's disableCheck
    // is the list's (upstream Multus honours it on a single-plugin delegate).
    const version = cniVersion ?? o.defaultCniVersion ?? IMPLICIT_VERSION;
    const conf = { ...raw, name, cniVersion: version } as NetConf;
    list = { cniVersion: version, name, plugins: [conf] };
    if (raw.disableCheck === true) list.disableCheck = true;
  }
  try {
    validateNetworkName(list.name);
    const effective = selectConfVersion(list.cniVersion, list.cniVersions);
    if (!isSpecVersion(effective)) throw new Error(`cniVersion ${q(effective)} is not supported (this Multus speaks 0.1.0 to ${LATEST_VERSION})`);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const detail = msg === "invalid characters found in network name" ? `${msg} ${q(list.name)} (letters, digits, "_", "." and "-", starting with a letter or digit)` : msg;
    throw fail(`is not a valid CNI config: ${detail}`);
  }
  return list;
}

/** Runs the rules, parses the list once for the runner and freezes the result. */
function seal(list: NetConfList, source: DelegateSource, policy: DelegatePolicy, rules: Rules): DelegateConfig {
  let runnable: NetworkConfigList;
  try {
    // The runner's own parser: whatever it would refuse at ADD is refused now, naming the source.
    runnable = parseNetworkConfigList(JSON.stringify(list));
  } catch (err) {
    throw invalid(source, `is not a valid CNI config: ${err instanceof Error ? err.message : String(err)}`);
  }
  checkPolicy(list, source, policy, rules);
  const config = Object.freeze({
    source: Object.freeze({ ...source }),
    name: list.name,
    plugins: runnable.plugins,
    list: deepFreeze(list),
    runnable: Object.freeze(runnable),
  }) as unknown as DelegateConfig;
  admitted.add(config);
  return config;
}

/** The caller's object stays the caller's: the model keeps (and freezes) a copy. */
function cloneJson(raw: unknown, source: DelegateSource): unknown {
  try {
    return structuredClone(raw);
  } catch (err) {
    throw invalid(source, `is not plain JSON data: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null || Object.isFrozen(v)) continue;
    Object.freeze(v);
    for (const child of Object.values(v)) stack.push(child);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// The rules
//
// Keys are matched the way the plugins read them: Go's encoding/json matches a struct field's name
// case-insensitively (with Unicode's simple folding, so "ſ" is an "s" and the Kelvin sign a "k"), and
// when a document holds several spellings of one field, each is read in turn (the last wins). So the
// gate looks at every key that folds to a name it checks, not only at the spelling in the plugin's
// documentation: "Type" under "IPAM" names the IPAM a Go plugin runs.

/** A key as Go's encoding/json compares it with a field name (ASCII case, and the two folds into ASCII). */
function fold(key: string): string {
  return key.replace(/\u017f/g, "s").replace(/\u212a/g, "k").toLowerCase();
}

/** The values of every key of `obj` that folds to `name`. */
function valuesOf(obj: Record<string, unknown>, name: string): { key: string; value: unknown }[] {
  const want = fold(name);
  return Object.entries(obj).filter(([k]) => fold(k) === want).map(([key, value]) => ({ key, value }));
}

/** A plugin or IPAM type the config names, with where (for the message). */
interface NamedType {
  type: string;
  at: string;
}

/** Every object in `root` (itself included) with its path, iteratively and depth-bounded. */
function objectsIn(root: unknown, at: string, source: DelegateSource): { o: Record<string, unknown>; at: string }[] {
  const out: { o: Record<string, unknown>; at: string }[] = [];
  const stack: { v: unknown; at: string; depth: number }[] = [{ v: root, at, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    const { v, depth } = item;
    if (depth > MAX_DEPTH) throw invalid(source, `is nested deeper than ${String(MAX_DEPTH)} levels at ${item.at}`);
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push({ v: x, at: `${item.at}[${String(i)}]`, depth: depth + 1 }));
    } else if (isRecord(v)) {
      out.push({ o: v, at: item.at });
      for (const [k, x] of Object.entries(v)) stack.push({ v: x, at: item.at === "" ? k : `${item.at}.${k}`, depth: depth + 1 });
    }
  }
  return out;
}

/** Rule 1: every `type` string anywhere in the config, however it is spelt. */
function everyType(list: NetConfList, source: DelegateSource): NamedType[] {
  return objectsIn(list, "", source).flatMap(({ o, at }) =>
    valuesOf(o, "type").flatMap(({ key, value }) => (typeof value === "string" ? [{ type: value, at: at === "" ? key : `${at}.${key}` }] : [])),
  );
}

/**
 * The plugin configs inside a list: each of `plugins`, and a meta-plugin's nested `delegate` (flannel
 * runs it as a plugin config of its own, and on DEL from a copy it wrote).
 */
function pluginObjects(list: NetConfList): { p: Record<string, unknown>; at: string }[] {
  const out: { p: Record<string, unknown>; at: string }[] = [];
  list.plugins.forEach((p, i) => {
    const at = `plugins[${String(i)}]`;
    out.push({ p, at });
    for (const { key, value } of valuesOf(p, "delegate")) if (isRecord(value)) out.push({ p: value, at: `${at}.${key}` });
  });
  return out;
}

/** Rule 2's types: each plugin's (a nested delegate's too) and its IPAM's, however they are spelt. */
function pluginTypes(list: NetConfList): NamedType[] {
  const out: NamedType[] = [];
  for (const { p, at } of pluginObjects(list)) {
    for (const { key, value } of valuesOf(p, "type")) if (typeof value === "string") out.push({ type: value, at: `${at}.${key}` });
    for (const ipam of valuesOf(p, "ipam")) {
      if (!isRecord(ipam.value)) continue;
      for (const { key, value } of valuesOf(ipam.value, "type")) if (typeof value === "string") out.push({ type: value, at: `${at}.${ipam.key}.${key}` });
    }
  }
  return out;
}

/**
 * Keys plugins use to name a host file, directory or socket, wherever they appear in a plugin's
 * config (its top level, its `ipam`, deeper: whereabouts' `kubernetes.kubeconfig`), whatever the
 * plugin: a tenant-written value must be an absolute path within allowedHostPaths, or within the
 * key's own default (`defaults`: where its plugin keeps that file when the key is absent, so naming
 * the default is harmless; a log key has none, so a tenant cannot point it at another network's lease
 * file). From the plugins' source (docs/security.md lists who reads which): none of them sanitises
 * the path, and several write, rotate or delete files there (host-local's GC removes files in
 * `<dataDir>/<name>`; flannel runs its delegate's config from its dataDir on DEL), hand the file's
 * content back in an error (whereabouts), run what a kubeconfig names (an `exec` credential plugin),
 * or send the whole request to the socket.
 */
const HOST_PATH_KEYS: readonly { key: string; what: string; defaults: readonly string[]; endpoint?: true }[] = [
  { key: "dataDir", what: "a directory the plugin writes in (host-local's leases, which its GC deletes; tuning's backups; flannel's delegate configs, run again on DEL)", defaults: ["/var/lib/cni/networks/", "/run/cni/tuning/"] },
  { key: "resolvConf", what: "a file host-local reads into the result", defaults: [] },
  { key: "daemonSocketPath", what: "the socket the dhcp plugin sends the whole request to", defaults: ["/run/cni/dhcp.sock"] },
  {
    key: "kubeconfig",
    what: "a kubeconfig whose credentials (and exec plugins) the plugin uses",
    defaults: ["/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig", "/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.kubeconfig"],
  },
  {
    key: "configuration_path",
    what: "a config file the plugin reads (whereabouts quotes it in its errors)",
    defaults: ["/etc/cni/net.d/whereabouts.d/whereabouts.conf", "/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.conf"],
  },
  { key: "log_file", what: "a file the plugin creates and appends its log to", defaults: [] },
  { key: "logFile", what: "a file the plugin creates, appends to and rotates", defaults: [] },
  { key: "log_file_path", what: "a file the plugin writes its log to", defaults: [] },
  { key: "log-file", what: "a file the plugin writes its log to", defaults: [] },
  { key: "subnetFile", what: "a file flannel reads", defaults: [] },
  { key: "socket_file", what: "the OVSDB endpoint ovs-cni connects to", defaults: ["/var/run/openvswitch/db.sock", "/run/openvswitch/db.sock"], endpoint: true },
  { key: "server_socket", what: "the socket kube-ovn sends the request to", defaults: [] },
];

const PATH_RULES: ReadonlyMap<string, (typeof HOST_PATH_KEYS)[number]> = new Map(HOST_PATH_KEYS.map((r) => [fold(r.key), r]));

/** Every key's plugin default, for docs and tests. */
export const KEY_DEFAULT_PATHS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(HOST_PATH_KEYS.map((r) => [r.key, r.defaults]));

/** Keys that hand the node's firewall raw arguments or a chain to jump to (portmap, firewall). */
const FIREWALL_KEYS: readonly { key: string; what: string }[] = [
  { key: "conditionsV4", what: "raw iptables arguments for the node's NAT table" },
  { key: "conditionsV6", what: "raw ip6tables arguments for the node's NAT table" },
  { key: "externalSetMarkChain", what: "a chain of the node's NAT table to jump to" },
  { key: "iptablesAdminChainName", what: "a chain of the node's filter table to create and jump to" },
];

/** What the runtime hands a plugin; in a stored config it would forge it (a portMappings request, a prevResult). */
const RUNTIME_KEYS: readonly string[] = ["runtimeConfig", "prevResult"];

/** An absolute path without "." or ".." segments, within one of the allowed files or directories. */
function pathAllowed(path: string, allowed: readonly string[]): boolean {
  if (!path.startsWith("/") || path.includes("\0")) return false;
  if (path.split("/").some((seg) => seg === "." || seg === "..")) return false;
  return allowed.some((a) => (a.endsWith("/") ? path === a.slice(0, -1) || path.startsWith(a) : path === a));
}

/**
 * Host paths anywhere under `root` (a plugin's config, or a pod's cni-args): the known keys (whose
 * value must be an absolute path where the rule allows), and any other string that is an absolute path
 * or a `unix:` socket (a plugin this Multus does not know may read it as one): within allowedHostPaths.
 */
function checkHostPaths(root: unknown, at: string, source: DelegateSource, policy: DelegatePolicy): void {
  const allowed = (path: string, defaults: readonly string[]): boolean => pathAllowed(path, policy.allowedHostPaths) || pathAllowed(path, defaults);
  const fix = `a network of this namespace may name only paths within the Multus config's delegatePolicy.allowedHostPaths (${policy.allowedHostPaths.map(q).join(", ") || "none set"})`;
  // `key`: the object key whose value `v` is (undefined for the root and for array elements).
  const stack: { v: unknown; at: string; key: string | undefined; depth: number }[] = [{ v: root, at, key: undefined, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === undefined) break;
    const { v, depth } = item;
    if (depth > MAX_DEPTH) throw invalid(source, `is nested deeper than ${String(MAX_DEPTH)} levels at ${item.at}`);
    const rule = item.key === undefined ? undefined : PATH_RULES.get(fold(item.key));
    if (rule !== undefined) {
      if (v === undefined || v === null || v === "") continue;
      const path = typeof v !== "string" ? undefined : rule.endpoint === true && v.startsWith("unix:") ? v.slice("unix:".length) : v;
      if (path !== undefined && allowed(path, rule.defaults)) continue;
      const own = rule.defaults.length === 0 ? "" : `, or the plugin's own default (${rule.defaults.map(q).join(", ")})`;
      throw refused(source, `${item.at} is ${JSON.stringify(v)}: ${rule.what}, a host path; ${fix}${own}; remove the key to use the plugin's default, or ask the cluster administrator to allow the path`);
    }
    if (typeof v === "string") {
      if (!v.startsWith("/") && !v.startsWith("unix:")) continue;
      if (allowed(v.startsWith("unix:") ? v.slice("unix:".length) : v, [])) continue;
      throw refused(source, `${item.at} is ${JSON.stringify(v)}, a host path (a plugin may read, write or connect to it); ${fix}; remove it, or ask the cluster administrator to allow the path`);
    }
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, at: `${item.at}[${String(i)}]`, key: undefined, depth: depth + 1 }));
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) stack.push({ v: x, at: item.at === "" ? k : `${item.at}.${k}`, key: k, depth: depth + 1 });
  }
}

/** Sysctl keys (tuning's `sysctl`, also read from `args.cni.sysctl`): per-network-namespace ones only. */
function checkSysctls(o: Record<string, unknown>, at: string, source: DelegateSource): void {
  for (const { key, value } of valuesOf(o, "sysctl")) {
    if (!isRecord(value)) continue;
    for (const name of Object.keys(value)) {
      // tuning itself confines keys to /proc/sys/net (every release since 0.2); the gate says so first.
      if (!/^net[./][A-Za-z0-9_./-]+$/.test(name) || name.split(/[./]/).some((seg) => seg === "" || seg === "..")) {
        throw refused(source, `${at}.${key} has ${q(name)}: only net.* keys belong to the pod's network namespace (any other would change the node itself); remove it`);
      }
    }
  }
}

/** The args a pod's selection wrote into a plugin (`args.cni`, from `cni-args`): what tuning and IPAMs read. */
function checkPodArgs(p: Record<string, unknown>, at: string, source: DelegateSource, policy: DelegatePolicy): void {
  for (const args of valuesOf(p, "args")) {
    if (!isRecord(args.value)) continue;
    checkHostPaths(args.value, `${at}.${args.key}`, source, policy);
    for (const cni of valuesOf(args.value, "cni")) if (isRecord(cni.value)) checkSysctls(cni.value, `${at}.${args.key}.${cni.key}`, source);
  }
}

/** Rule 3 for one plugin config a tenant wrote. */
function checkTenantPlugin(p: Record<string, unknown>, at: string, source: DelegateSource, policy: DelegatePolicy): void {
  for (const name of RUNTIME_KEYS) {
    for (const { key } of valuesOf(p, name)) {
      throw refused(source, `${at}.${key} is set: it is what the runtime hands a plugin (capability arguments, the previous result), never part of a network's config; remove it`);
    }
  }
  for (const rule of FIREWALL_KEYS) {
    for (const { key } of valuesOf(p, rule.key)) throw refused(source, `${at}.${key} is set: ${rule.what}, which a network of this namespace may not choose; remove it`);
  }
  checkHostPaths(p, at, source, policy);
  checkSysctls(p, at, source);
  checkPodArgs(p, at, source, policy);
}

function checkPolicy(list: NetConfList, source: DelegateSource, policy: DelegatePolicy, rules: Rules): void {
  for (const { type, at } of everyType(list, source)) {
    // A type is a file name in the plugin directories: a path in one would make an old plugin (libcni
    // before 0.8.1, CVE-2021-20206) run whatever it points at.
    if (type.includes("/") || type.includes("\0") || type === "." || type === "..") {
      throw refused(source, `${at} is ${q(type)}, which is not a plugin name (a plugin is a file in the CNI plugin directories; a type names it without a path); fix the type`);
    }
    if (MULTUS_EXECUTABLES.includes(type)) {
      throw refused(
        source,
        `${at} is ${q(type)}, one of Multus's own programs, which never runs as a network's plugin (it would take its binDir, cniDir, kubeconfig, log file or daemon socket from this config); use the plugin itself (bridge, macvlan, sriov, …) in this config`,
      );
    }
  }
  if (rules.types) {
    for (const { type, at } of pluginTypes(list)) {
      if (policy.deniedTypes.includes(type)) {
        throw refused(source, `${at} is ${q(type)}, which the Multus config's delegatePolicy.deniedTypes does not allow for networks of this namespace; ask the cluster administrator, or use another plugin`);
      }
      if (policy.allowedTypes !== undefined && !policy.allowedTypes.includes(type)) {
        throw refused(source, `${at} is ${q(type)}, which is not in the Multus config's delegatePolicy.allowedTypes (${policy.allowedTypes.map(q).join(", ")}); ask the cluster administrator, or use one of those`);
      }
    }
  }
  if (rules.hostPaths) {
    for (const { p, at } of pluginObjects(list)) checkTenantPlugin(p, at, source, policy);
  } else if (source.kind === "annotation") {
    // A pod's cni-args are the pod's, whoever wrote the NAD they are merged into.
    for (const { p, at } of pluginObjects(list)) checkPodArgs(p, at, source, policy);
  }
}
