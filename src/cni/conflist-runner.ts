// The runtime side of CNI: run a network configuration (list) against a container the way libcni does
// (containernetworking/cni libcni/api.go), with the spec's 1.1.0 verbs. Multus uses it to call its
// delegates; tests use it to drive the reference plugins.
//
// Exported API:
//   interface NetworkConfigList { name; cniVersion /* effective */; disableCheck; disableGC;
//                                 plugins: NetConf[]; bytes: Buffer /* exact, cached as "config" */ }
//   parseNetworkConfigList(bytes: Buffer | string): NetworkConfigList          a .conflist
//   parseNetworkConfig(bytes: Buffer | string): NetworkConfigList              a single .conf, as the
//       one-plugin list libcni makes of it (the conf's own name and cniVersion; its bytes are cached)
//   interface RuntimeConf { containerId; netns; ifName; args?: [k, v][] /* CNI_ARGS */;
//                           capabilityArgs?: Record<string, unknown> }
//   buildPluginRequest(list, plugin, prevResult?, rt?): Record<string, unknown>   CNI-R-04, pure
//   class ConflistRunner(options: ConflistRunnerOptions)
//     addNetworkList(list, rt, opts?): Promise<CniResult>     result in the last plugin's version
//     delNetworkList(list, rt, opts?): Promise<void>
//     checkNetworkList(list, rt, opts?): Promise<void>
//     gcNetworkList(list, validAttachments: readonly ValidAttachment[] | null, opts?): Promise<void>
//     getStatusNetworkList(list, opts?): Promise<void>
//     getCachedResult(list, rt): Promise<CniResult | undefined>   converted to the list's version
//     getCachedAttachments(containerId?): Promise<CachedAttachment[]>
//     getVersionInfo(type, opts?): Promise<VersionInfo>
//     addNetwork / delNetwork / checkNetwork / getNetworkCachedResult: the same for a single conf
//       (aliases kept for callers that mirror libcni's API; pass parseNetworkConfig's output)
//   opts = { signal?, deadline?, inheritFds?, onSpawn?, onExit? }: `signal` cancels the operation
//     (running plugins are killed); `deadline` bounds it as a whole; plugins inherit `inheritFds`.
//
// Semantics (conformance §1b):
//   - CNI-R-03: ADD/CHECK/DEL check containerID (empty 3, bad 4), network name (7) and ifname (4) and
//     resolve every plugin binary before running anything; ADD/CHECK also require the netns path to
//     exist (code 8, CNI-R-16; libcni leaves that to the plugins).
//   - CNI-R-04/05: each request is the plugin's object with `name`/`cniVersion` overwritten by the
//     list's (version chosen from cniVersion/cniVersions), `prevResult` (not for the first ADD),
//     `runtimeConfig` from runtime-config.ts (replacing the plugin's own only when non-empty); all other
//     keys, `capabilities` included, pass through.
//   - CNI-R-06/07: ADD runs in order; each result is validated (decodeResult: a missing cniVersion is
//     the list's) and handed on raw, unconverted, as the next plugin's prevResult (libcni); the first
//     failure stops the chain with `plugin type="x" name="y" failed (add): <error>`, keeping the
//     plugin's code; only a complete chain writes the cache.
//   - CNI-R-10: DEL runs in reverse order with the cached result converted to the list's version as
//     prevResult (lists ≥ 0.4.0 only); an unusable cache file is deleted and DEL goes on without it;
//     the first failure stops DEL and keeps the cache; success removes it. DEL works without a cache
//     (after a failed ADD) and repeatedly.
//   - CNI-R-11: CHECK needs a list ≥ 0.4.0 (`configuration version "X" does not support the CHECK
//     command`), does nothing with disableCheck, and requires the cached result (we refuse a CHECK of
//     an attachment we have no record of, code 3; libcni would run the plugins without prevResult).
//   - CNI-R-12: GC does nothing with disableGC; DELs every cached attachment of the network that is
//     not in the valid set (using the cached netns, CNI_ARGS and capability args); from 1.1.0 on runs
//     GC on every plugin with {…plugin, name, cniVersion, "cni.dev/valid-attachments"} and only
//     CNI_COMMAND/CNI_PATH set; failures do not stop it and are joined into one error. (libcni also
//     sends the misspelt "cni.dev/attachments" of its issue #1101; we send the spec's key only.)
//   - CNI-R-13: STATUS below 1.1.0 succeeds without running anything; otherwise the first plugin
//     error is returned as is (codes 50/51 preserved).
//   - CNI-R-16: operations on one container ID never overlap inside this runner; GC excludes all other
//     operations while it runs. (This lock is in-process only.)
//   - CNI-R-17: every plugin execution has the runner's deadline (`timeoutMs`); a plugin that exceeds
//     it is killed and the operation fails.
//
// Deliberate differences from libcni (each fails earlier, says more, or avoids a needless failure):
//   every plugin binary is found before the first runs; ADD/CHECK need an existing netns (code 8);
//   CHECK needs the cached result (code 3); CHECK errors are prefixed like ADD/DEL ones ("(check)");
//   capability names/keys are matched case-insensitively (runtime-config.ts); a non-executable file
//   does not shadow a plugin later in the path; GC does not send "cni.dev/attachments"; joined GC
//   errors are separated by "; " and carry the first error's code; ADD stdout that is not JSON is
//   code 6. When upstream Multus prints a wrapped libcni error, skel unwraps it to the innermost
//   types.Error (code kept, "plugin … failed (add):" prefix dropped); we keep both.

import { statSync } from "node:fs";
import { CniCode, CniError } from "./cni-error.ts";
import { settled } from "./settled.ts";
import { execPlugin, findPlugin, formatCniArgs, NOOP_LOGGER, probeVersion, type Spawner } from "./exec-plugin.ts";
import type { CniLogger } from "./exec-plugin.ts";
import { validateContainerId, validateInterfaceName, validateNetworkName } from "./plugin-env.ts";
import { ResultCache } from "./result-cache.ts";
import type { CachedAttachment, CacheKey } from "./result-cache.ts";
import { convertResult } from "./result-convert.ts";
import { decodeResult } from "./result-decode.ts";
import { buildRuntimeConfig } from "./runtime-config.ts";
import type { CniCommand, CniResult, NetConf, ValidAttachment, VersionInfo } from "./types.ts";
import { IMPLICIT_VERSION, selectConfVersion, versionAtLeast } from "./version.ts";
import { isRecord } from "./is-record.ts";

// ---------------------------------------------------------------------------------------------------
// Configuration parsing (libcni conf.go NetworkConfFromBytes / ConfFromBytes / ConfListFromConf)

export interface NetworkConfigList {
  name: string;
  /** The version the list runs at (CNI-R-05); every request carries it. */
  cniVersion: string;
  disableCheck: boolean;
  disableGC: boolean;
  plugins: NetConf[];
  /** The exact configuration bytes: cached as "config" so a later DEL/GC can see what was used. */
  bytes: Buffer;
}


function configError(msg: string): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, msg);
}

function parseJsonObject(bytes: Buffer | string, what: string): { obj: Record<string, unknown>; buf: Buffer } {
  const buf = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `error parsing ${what}: ${(err as Error).message}`);
  }
  if (!isRecord(raw)) throw configError(`error parsing ${what}: not a JSON object`);
  return { obj: raw, buf };
}

/** Check the fields libcni's Go structs would refuse to decode; the object is kept whole. */
function validatePluginConf(raw: unknown, prefix: string): NetConf {
  if (!isRecord(raw)) throw configError(`${prefix}: not a JSON object`);
  const { type, name, cniVersion, capabilities, ipam } = raw;
  if (typeof type !== "string" || type === "") throw configError(`${prefix}: missing 'type'`);
  if (name !== undefined && typeof name !== "string") throw configError(`${prefix}: "name" is not a string`);
  if (cniVersion !== undefined && typeof cniVersion !== "string") throw configError(`${prefix}: "cniVersion" is not a string`);
  if (capabilities !== undefined && capabilities !== null) {
    if (!isRecord(capabilities) || !Object.values(capabilities).every((v) => typeof v === "boolean")) {
      throw configError(`${prefix}: "capabilities" must map names to booleans`);
    }
  }
  if (ipam !== undefined && ipam !== null) {
    if (!isRecord(ipam) || (ipam.type !== undefined && typeof ipam.type !== "string")) {
      throw configError(`${prefix}: "ipam" must be an object with a string "type"`);
    }
  }
  return { ...raw, type };
}

function readBool(obj: Record<string, unknown>, key: string): boolean {
  const v = obj[key];
  if (v === undefined) return false;
  if (typeof v === "boolean") return v;
  // libcni accepts the strings "true"/"false" in any case.
  if (typeof v === "string") {
    const s = v.toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
  }
  throw configError(`error parsing configuration list: invalid value ${JSON.stringify(v)} for ${key}`);
}

export function parseNetworkConfigList(bytes: Buffer | string): NetworkConfigList {
  const { obj, buf } = parseJsonObject(bytes, "configuration list");
  if (!("name" in obj)) throw configError("error parsing configuration list: no name");
  if (typeof obj.name !== "string") throw configError("error parsing configuration list: invalid name type");
  const cniVersion = obj.cniVersion;
  if (cniVersion !== undefined && typeof cniVersion !== "string") throw configError("error parsing configuration list: invalid cniVersion type");
  const cniVersions = obj.cniVersions;
  if (cniVersions !== undefined && (!Array.isArray(cniVersions) || !cniVersions.every((v): v is string => typeof v === "string"))) {
    throw configError("error parsing configuration list: cniVersions must be a list of strings");
  }
  const version = selectConfVersion(cniVersion, cniVersions);
  const disableCheck = readBool(obj, "disableCheck");
  const disableGC = readBool(obj, "disableGC");
  readBool(obj, "loadOnlyInlinedPlugins");
  // Plugins from a sibling directory (loadOnlyInlinedPlugins=false) are the file loader's business;
  // a list that reaches the runner must carry its plugins.
  if (!Array.isArray(obj.plugins)) throw configError("error parsing configuration list: no 'plugins' list");
  if (obj.plugins.length === 0) throw configError("error parsing configuration list: no plugins in list");
  const plugins = (obj.plugins as unknown[]).map((p, i) => validatePluginConf(p, `failed to parse plugin config ${i}: error parsing configuration`));
  return { name: obj.name, cniVersion: version, disableCheck, disableGC, plugins, bytes: buf };
}

export function parseNetworkConfig(bytes: Buffer | string): NetworkConfigList {
  const { obj, buf } = parseJsonObject(bytes, "configuration");
  const conf = validatePluginConf(obj, "error parsing configuration");
  return {
    name: conf.name ?? "",
    cniVersion: selectConfVersion(conf.cniVersion, undefined),
    disableCheck: false,
    disableGC: false,
    plugins: [conf],
    bytes: buf,
  };
}

// ---------------------------------------------------------------------------------------------------
// Requests

export interface RuntimeConf {
  containerId: string;
  /** Path of the container's network namespace; may be "" for DEL. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, in order. */
  args?: readonly (readonly [string, string])[];
  /** Capability arguments offered by the runtime; filtered per plugin by its `capabilities`. */
  capabilityArgs?: Readonly<Record<string, unknown>>;
}

/** CNI-R-04: the stdin of one plugin of `list` (libcni buildOneConfig). */
export function buildPluginRequest(
  list: Pick<NetworkConfigList, "name" | "cniVersion">,
  plugin: NetConf,
  prevResult?: CniResult,
  rt?: RuntimeConf,
): Record<string, unknown> {
  const req: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) req.prevResult = prevResult;
  if (rt !== undefined) {
    const rc = buildRuntimeConfig(plugin.capabilities, rt.capabilityArgs);
    if (rc !== undefined) req.runtimeConfig = rc;
  }
  return req;
}

function describePlugin(plugin: NetConf): string {
  // libcni pluginDescription: the plugin's own name, if it has one.
  let out = `type=${JSON.stringify(plugin.type)}`;
  if (plugin.name !== undefined && plugin.name !== "") out += ` name=${JSON.stringify(plugin.name)}`;
  return out;
}

function wrap(prefix: string, err: unknown): CniError {
  const e = err instanceof CniError ? err : new CniError(CniCode.Internal, err instanceof Error ? err.message : String(err));
  return new CniError(e.code, `${prefix}: ${e.message}`, e.details, { cause: e });
}

function toRecord(result: CniResult): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result));
}

// ---------------------------------------------------------------------------------------------------
// Locks (CNI-R-16)

/** Per-container mutual exclusion plus a readers/writer gate so that GC runs alone. */
class OperationLocks {
  private readonly tails = new Map<string, Promise<void>>();
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { kind: "shared" | "exclusive"; go: () => void }[] = [];

  private pump(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (next === undefined) return;
      if (next.kind === "shared") {
        if (this.exclusive) return;
        this.shared++;
      } else {
        if (this.exclusive || this.shared > 0) return;
        this.exclusive = true;
      }
      this.waiting.shift();
      next.go();
    }
  }

  private acquire(kind: "shared" | "exclusive"): Promise<void> {
    return new Promise<void>((resolve) => {
      // FIFO: a waiting GC blocks later operations, so it cannot starve.
      this.waiting.push({ kind, go: resolve });
      this.pump();
    });
  }

  private release(kind: "shared" | "exclusive"): void {
    if (kind === "shared") this.shared--;
    else this.exclusive = false;
    this.pump();
  }

  async forContainer<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(containerId) ?? Promise.resolve();
    let done: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tail = prev.then(() => mine);
    this.tails.set(containerId, tail);
    await prev;
    try {
      await this.acquire("shared");
      try {
        return await fn();
      } finally {
        this.release("shared");
      }
    } finally {
      done();
      if (this.tails.get(containerId) === tail) this.tails.delete(containerId);
    }
  }

  async alone<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire("exclusive");
    try {
      return await fn();
    } finally {
      this.release("exclusive");
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The runner

export interface ConflistRunnerOptions {
  /** libcni's cache directory (results in `<cacheDir>/results`); Multus: its `cniDir`. */
  cacheDir: string;
  /** Plugin directories, searched in order; also sent as CNI_PATH. */
  pluginDirs: readonly string[];
  /** Deadline of each plugin execution (CNI-R-17). */
  timeoutMs: number;
  /** Base environment of plugins (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: CniLogger;
  /** argv prefix for starting plugins, e.g. ["ip", "netns", "exec", "<node-ns>"] in tests. */
  launcher?: readonly string[];
  /** How plugin processes are started (default: Node's child_process; exec-plugin.ts). */
  spawner?: Spawner;
}

export interface OperationOptions {
  signal?: AbortSignal;
  /**
   * The caller's overall deadline (epoch ms): each plugin gets min(timeoutMs, what is left), and a
   * plugin killed by it fails with `reason` ("the ADD's 90 s budget (operationTimeoutSeconds) ran out").
   */
  deadline?: { at: number; reason: string };
  /** Descriptors every plugin of the operation inherits (fd 3, 4, …): the caller's locks. */
  inheritFds?: readonly number[];
  /** Each plugin's PID when it starts and when it has exited. */
  onSpawn?: (pid: number, plugin: string) => void;
  onExit?: (pid: number) => void;
}

interface ExecContext extends Omit<OperationOptions, "signal"> {
  command: CniCommand;
  plugin: NetConf;
  pluginPath: string;
  stdin: Record<string, unknown>;
  rt?: RuntimeConf;
  signal?: AbortSignal;
}

export class ConflistRunner {
  private readonly cache: ResultCache;
  private readonly pluginDirs: readonly string[];
  private readonly timeoutMs: number;
  private readonly env: Readonly<Record<string, string | undefined>> | undefined;
  private readonly logger: CniLogger;
  private readonly launcher: readonly string[] | undefined;
  private readonly spawner: Spawner | undefined;
  private readonly locks = new OperationLocks();

  constructor(options: ConflistRunnerOptions) {
    this.cache = new ResultCache(options.cacheDir);
    this.pluginDirs = [...options.pluginDirs];
    this.timeoutMs = options.timeoutMs;
    this.env = options.env;
    this.logger = options.logger ?? NOOP_LOGGER;
    this.launcher = options.launcher;
    this.spawner = options.spawner;
  }

  // ---- ADD ----------------------------------------------------------------------------------------

  addNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<CniResult> {
    return this.locks.forContainer(rt.containerId, () => this.add(list, rt, opts));
  }

  addNetwork(conf: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<CniResult> {
    return this.addNetworkList(conf, rt, opts);
  }

  private async add(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions): Promise<CniResult> {
    validateAttachment(list, rt);
    await requireNetns(rt.netns);
    const paths = await this.resolveAll(list, "add");
    let result: CniResult | undefined;
    for (const [i, plugin] of list.plugins.entries()) {
      try {
        const stdout = await this.exec({
          command: "ADD",
          plugin,
          pluginPath: paths[i] ?? "",
          // libcni hands the previous plugin's result on as it came, without converting it.
          stdin: buildPluginRequest(list, plugin, result, rt),
          rt,
          ...opts,
        });
        result = decodeStdout(stdout, list.cniVersion);
      } catch (err) {
        throw wrap(`plugin ${describePlugin(plugin)} failed (add)`, err);
      }
    }
    if (result === undefined) throw configError(`network ${JSON.stringify(list.name)} has no plugins`);
    try {
      await this.cache.write({
        networkName: list.name,
        containerId: rt.containerId,
        ifName: rt.ifName,
        config: list.bytes,
        netns: rt.netns,
        cniArgs: (rt.args ?? []).map(([k, v]): [string, string] => [k, v]),
        capabilityArgs: { ...(rt.capabilityArgs ?? {}) },
        result: toRecord(result),
      });
    } catch (err) {
      throw wrap(`failed to set network ${JSON.stringify(list.name)} cached result`, err);
    }
    return result;
  }

  // ---- DEL ----------------------------------------------------------------------------------------

  delNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<void> {
    return this.locks.forContainer(rt.containerId, () => this.del(list, rt, opts));
  }

  delNetwork(conf: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<void> {
    return this.delNetworkList(conf, rt, opts);
  }

  private async del(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions): Promise<void> {
    validateAttachment(list, rt);
    const key = cacheKey(list, rt);
    let prev: CniResult | undefined;
    // CNI 0.4.0 introduced prevResult on DEL.
    if (versionAtLeast(list.cniVersion, "0.4.0")) {
      try {
        prev = await this.readCached(key, list.cniVersion);
      } catch (err) {
        // libcni: an unusable cache file is removed and DEL goes on without prevResult.
        this.logger.warn({ network: list.name, containerId: rt.containerId, ifName: rt.ifName, error: (err as Error).message }, "removing unusable cached result");
        await this.cache.delete(key);
        prev = undefined;
      }
    }
    const paths = await this.resolveAll(list, "delete");
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      const plugin = list.plugins[i];
      if (plugin === undefined) continue;
      try {
        await this.exec({
          command: "DEL",
          plugin,
          pluginPath: paths[i] ?? "",
          stdin: buildPluginRequest(list, plugin, prev, rt),
          rt,
          ...opts,
        });
      } catch (err) {
        // The cache stays: it is the record a retried DEL needs.
        throw wrap(`plugin ${describePlugin(plugin)} failed (delete)`, err);
      }
    }
    await this.cache.delete(key);
  }

  // ---- CHECK --------------------------------------------------------------------------------------

  checkNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<void> {
    return this.locks.forContainer(rt.containerId, () => this.check(list, rt, opts));
  }

  checkNetwork(conf: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions = {}): Promise<void> {
    return this.checkNetworkList(conf, rt, opts);
  }

  private async check(list: NetworkConfigList, rt: RuntimeConf, opts: OperationOptions): Promise<void> {
    // CNI 0.4.0 introduced CHECK.
    if (!versionAtLeast(list.cniVersion, "0.4.0")) {
      throw new CniError(CniCode.IncompatibleVersion, `configuration version "${list.cniVersion}" does not support the CHECK command`);
    }
    if (list.disableCheck) return;
    validateAttachment(list, rt);
    await requireNetns(rt.netns);
    let prev: CniResult | undefined;
    try {
      prev = await this.readCached(cacheKey(list, rt), list.cniVersion);
    } catch (err) {
      throw wrap(`failed to get network ${JSON.stringify(list.name)} cached result`, err);
    }
    if (prev === undefined) {
      // SPEC CHECK: "The runtime must not call CHECK for a container that has not been ADDed".
      throw new CniError(
        CniCode.UnknownContainer,
        `no cached result for network ${JSON.stringify(list.name)}, container ${JSON.stringify(rt.containerId)}, interface ${JSON.stringify(rt.ifName)}: CHECK needs a previous ADD`,
      );
    }
    const paths = await this.resolveAll(list, "check");
    for (const [i, plugin] of list.plugins.entries()) {
      try {
        await this.exec({ command: "CHECK", plugin, pluginPath: paths[i] ?? "", stdin: buildPluginRequest(list, plugin, prev, rt), rt, ...opts });
      } catch (err) {
        throw wrap(`plugin ${describePlugin(plugin)} failed (check)`, err);
      }
    }
  }

  // ---- GC -----------------------------------------------------------------------------------------

  gcNetworkList(list: NetworkConfigList, validAttachments: readonly ValidAttachment[] | null, opts: OperationOptions = {}): Promise<void> {
    if (list.disableGC) return Promise.resolve();
    // SPEC GC: must not run concurrently with ADD/DEL.
    return this.locks.alone(() => this.gc(list, validAttachments ?? [], opts));
  }

  private async gc(list: NetworkConfigList, valid: readonly ValidAttachment[], opts: OperationOptions): Promise<void> {
    const keep = new Set(valid.map((a) => `${a.containerID}\0${a.ifname}`));
    const errors: CniError[] = [];
    for (const cached of await this.cache.list()) {
      if (cached.networkName !== list.name) continue;
      if (keep.has(`${cached.containerId}\0${cached.ifName}`)) continue;
      const rt: RuntimeConf = {
        containerId: cached.containerId,
        netns: cached.netns ?? "",
        ifName: cached.ifName,
        args: cached.cniArgs ?? [],
        capabilityArgs: cached.capabilityArgs ?? {},
      };
      try {
        await this.del(list, rt, opts);
      } catch (err) {
        errors.push(wrap(`failed to delete stale attachment ${rt.containerId} ${rt.ifName}`, err));
      }
    }
    // CNI 1.1.0 introduced the GC verb.
    if (versionAtLeast(list.cniVersion, "1.1.0")) {
      for (const plugin of list.plugins) {
        try {
          const pluginPath = await findPlugin(plugin.type, this.pluginDirs);
          const stdin = { ...plugin, name: list.name, cniVersion: list.cniVersion, "cni.dev/valid-attachments": valid };
          await this.exec({ command: "GC", plugin, pluginPath, stdin, ...opts });
        } catch (err) {
          errors.push(wrap(`failed to GC plugin ${plugin.type}`, err));
        }
      }
    }
    const first = errors[0];
    if (first !== undefined) {
      // libcni errors.Join: every failure is reported; the first one's code stands for the whole.
      throw new CniError(first.code, errors.map((e) => e.message).join("; "), "", { cause: errors.length === 1 ? first : new AggregateError(errors) });
    }
  }

  // ---- STATUS -------------------------------------------------------------------------------------

  async getStatusNetworkList(list: NetworkConfigList, opts: OperationOptions = {}): Promise<void> {
    // CNI 1.1.0 introduced STATUS; older networks are simply assumed ready.
    if (!versionAtLeast(list.cniVersion, "1.1.0")) return;
    for (const plugin of list.plugins) {
      const pluginPath = await findPlugin(plugin.type, this.pluginDirs);
      const stdin = { ...plugin, name: list.name, cniVersion: list.cniVersion };
      // Returned unwrapped so that 50/51 reach the caller as the plugin said them.
      await this.exec({ command: "STATUS", plugin, pluginPath, stdin, ...opts });
    }
  }

  // ---- cache --------------------------------------------------------------------------------------

  async getCachedResult(list: NetworkConfigList, rt: Pick<RuntimeConf, "containerId" | "ifName">): Promise<CniResult | undefined> {
    try {
      return await this.readCached(cacheKey(list, rt), list.cniVersion);
    } catch (err) {
      throw wrap(`failed to get network ${JSON.stringify(list.name)} cached result`, err);
    }
  }

  getNetworkCachedResult(conf: NetworkConfigList, rt: Pick<RuntimeConf, "containerId" | "ifName">): Promise<CniResult | undefined> {
    return this.getCachedResult(conf, rt);
  }

  getCachedAttachments(containerId?: string): Promise<CachedAttachment[]> {
    return this.cache.list(containerId);
  }

  async getVersionInfo(type: string, opts: OperationOptions = {}): Promise<VersionInfo> {
    const pluginPath = await findPlugin(type, this.pluginDirs);
    return probeVersion(pluginPath, {
      timeoutMs: this.timeoutMs,
      ...(this.env === undefined ? {} : { env: this.env }),
      ...(this.launcher === undefined ? {} : { launcher: this.launcher }),
      ...(this.spawner === undefined ? {} : { spawner: this.spawner }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      onStderr: (line) => {
        this.logger.info({ plugin: type, command: "VERSION", line }, "plugin stderr");
      },
    });
  }

  /** The cached result converted to `version`; undefined when there is none; throws when unusable. */
  private async readCached(key: CacheKey, version: string): Promise<CniResult | undefined> {
    const outcome = await this.cache.read(key);
    switch (outcome.state) {
      case "absent":
        return undefined;
      case "corrupt":
        throw new CniError(CniCode.DecodingFailure, `unusable cache file: ${outcome.reason}`);
      case "legacy":
        return convertResult(decodeResult(outcome.result, IMPLICIT_VERSION), version);
      case "ok":
        if (outcome.entry.result === undefined) return undefined;
        // The stored result carries its version; convert it to the configuration's (libcni).
        return convertResult(decodeResult(outcome.entry.result, IMPLICIT_VERSION), version);
    }
  }

  // ---- execution ----------------------------------------------------------------------------------

  private async resolveAll(list: NetworkConfigList, verb: string): Promise<string[]> {
    const out: string[] = [];
    for (const plugin of list.plugins) {
      try {
        out.push(await findPlugin(plugin.type, this.pluginDirs));
      } catch (err) {
        throw wrap(`plugin ${describePlugin(plugin)} failed (${verb})`, err);
      }
    }
    return out;
  }

  private async exec(ctx: ExecContext): Promise<Buffer> {
    const rt = ctx.rt;
    const started = performance.now();
    const fields = { plugin: ctx.plugin.type, command: ctx.command, containerId: rt?.containerId ?? "", ifName: rt?.ifName ?? "" };
    this.logger.debug(fields, "running plugin");
    // The operation's deadline wins over the per-plugin one when it comes first.
    const left = ctx.deadline === undefined ? Infinity : Math.max(1, ctx.deadline.at - Date.now());
    const timeoutMs = Math.min(this.timeoutMs, left);
    const deadlineReason = ctx.deadline !== undefined && left < this.timeoutMs ? ctx.deadline.reason : undefined;
    try {
      const out = await execPlugin({
        pluginPath: ctx.pluginPath,
        command: ctx.command,
        // GC and STATUS concern the network, not an attachment: libcni sends those variables empty.
        containerId: rt?.containerId ?? "",
        netns: rt?.netns ?? "",
        ifName: rt?.ifName ?? "",
        args: formatCniArgs(rt?.args ?? []),
        path: this.pluginDirs,
        stdin: JSON.stringify(ctx.stdin),
        timeoutMs,
        ...(deadlineReason === undefined ? {} : { deadlineReason }),
        ...(ctx.inheritFds === undefined ? {} : { inheritFds: ctx.inheritFds }),
        ...(ctx.onSpawn === undefined ? {} : { onSpawn: (pid: number) => ctx.onSpawn?.(pid, ctx.plugin.type) }),
        ...(ctx.onExit === undefined ? {} : { onExit: ctx.onExit }),
        ...(this.env === undefined ? {} : { env: this.env }),
        ...(this.launcher === undefined ? {} : { launcher: this.launcher }),
        ...(this.spawner === undefined ? {} : { spawner: this.spawner }),
        ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
        onStderr: (line) => {
          this.logger.info({ ...fields, line }, "plugin stderr");
        },
      });
      this.logger.debug({ ...fields, ms: Math.round((performance.now() - started) * 10) / 10 }, "plugin succeeded");
      return out;
    } catch (err) {
      this.logger.debug({ ...fields, ms: Math.round((performance.now() - started) * 10) / 10, error: (err as Error).message }, "plugin failed");
      throw err;
    }
  }
}

function cacheKey(list: Pick<NetworkConfigList, "name">, rt: Pick<RuntimeConf, "containerId" | "ifName">): CacheKey {
  return { networkName: list.name, containerId: rt.containerId, ifName: rt.ifName };
}

/** CNI-R-03 (libcni pkg/utils): checked before anything runs. */
function validateAttachment(list: NetworkConfigList, rt: RuntimeConf): void {
  validateContainerId(rt.containerId);
  validateNetworkName(list.name);
  validateInterfaceName(rt.ifName);
}

/**
 * CNI-R-16: the runtime must create the namespace before invoking plugins. libcni leaves this to the
 * plugins; we check it so that a chain never starts (and half-configures) against a namespace that is
 * not there. Code 8 is libcni's ErrInvalidNetNS. DEL does not check: it must work after the netns is gone.
 */
function requireNetns(netns: string): Promise<void> {
  return settled(() => {
    if (netns === "") throw new CniError(CniCode.NetnsFailure, "missing network namespace path (CNI_NETNS)");
    try {
      statSync(netns);
    } catch (err) {
      throw new CniError(CniCode.NetnsFailure, `network namespace ${JSON.stringify(netns)} does not exist`, (err as Error).message);
    }
  });
}

/** A plugin's ADD stdout → a validated result (CNI-R-07). */
function decodeStdout(stdout: Buffer, confVersion: string): CniResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.toString("utf8"));
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `failed to unmarshal raw result: ${(err as Error).message}`);
  }
  return decodeResult(parsed, confVersion);
}
