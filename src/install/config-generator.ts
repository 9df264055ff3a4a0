// The CNI config generator of the daemon (type multus-shim) and of multus-install's thin mode (type
// multus): writes the file that makes the runtime call Multus first.
//
// - The master is the alphabetically first `.conf`/`.conflist` in multusAutoconfigDir that is not ours
//   (`00-multus.*`) and is not a Multus config under another name (Multus never nests itself as its
//   own cluster network, multus#1108) — or `multusMasterCNI` when set. When that file does not parse
//   (a primary CNI writing non-atomically) nothing changes until it does: the next file in line is
//   never taken instead, which would give pods the wrong cluster network for a moment.
// - The output is `00-multus.conflist` for cniVersion ≥ 1.0.0 (a list with one `multus-shim` plugin),
//   else `00-multus.conf` (cniVersion: the daemon config's, else the master's); `clusterNetwork` is the
//   master's path, `capabilities` the union of the master's and the daemon config's, plus the daemon
//   config's thin keys (so a DEL the shim hands to the thin plugin while the daemon is down sees the
//   same config as the daemon). A user-provided `multusConfigFile` is copied with those keys laid over
//   it, for the same reason.
// - Written atomically (temp + fsync + rename), never empty, and only when the content changes.
// - Kept true: the directory is watched (fs.watch, plus a periodic resync because inotify misses
//   events on some filesystems and renames across directories), so a master that changes, is renamed,
//   or is overtaken by another file is picked up, and our file is put back when something renames or
//   deletes it (Cilium renames foreign configs to *.cilium_bak).
// - Each version written is noted by its sha256 in `multus.d/written-configs.json` beside it, so that
//   uninstall removes a Multus config only when Multus-TS wrote what is there — not upstream Multus's
//   own `00-multus.conf` after a rollback to it (noteWritten, writtenByUs).
// - Never deleted or emptied: not on SIGTERM (multus#1527, #1387), not when the master disappears
//   (then the last good file stays and an error is logged; pods keep getting their secondary networks
//   through the still-configured cluster network path until a master returns).
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { isRecord } from "../cni/is-record.ts";
import { versionAtLeast } from "../cni/version.ts";
import type { Logger } from "../util/logger.ts";

export const MULTUS_CONFIG_PREFIX = "00-multus";
const SHIM_TYPE = "multus-shim";
const MULTUS_TYPES = new Set(["multus", "multus-shim"]);

export interface GeneratedConfig {
  /** The file we write (00-multus.conf or .conflist). */
  path: string;
  /** The master's path; undefined when the config is a user-provided copy. */
  master: string | undefined;
  content: string;
}

/** The keys the generator reads (the daemon's DaemonConfig has them all; multus-install builds them from its flags). */
export interface GeneratorConfig {
  /** "auto": from the master config; else a file to copy. */
  multusConfigFile: string;
  multusAutoconfigDir: string;
  cniConfigDir: string;
  multusMasterCNI: string | undefined;
  cniVersion: string | undefined;
  overrideNetworkName: boolean;
  capabilities: Record<string, boolean>;
  /** Thin Multus keys written into the generated config. */
  overrides: Record<string, unknown>;
  /** The daemon's socket directory (only for pluginType multus-shim). */
  socketDir: string;
}

export interface ConfigGeneratorOptions {
  config: GeneratorConfig;
  log: Logger;
  /** Periodic re-check besides fs.watch; default 2000 ms. */
  resyncMs?: number;
  /**
   * The plugin the generated config runs: "multus-shim" (thick, the daemon's; default) or "multus"
   * (thin: multus-install writes it, and it carries no daemonSocketDir).
   */
  pluginType?: "multus-shim" | "multus";
  /** Called after every write (metrics, tests). */
  onWrite?: (g: GeneratedConfig, reason: string) => void;
  /**
   * Whether a Multus config under our other name that Multus-TS did not write (upstream's
   * `00-multus.conf`) may be removed now. The daemon answers whether it still owns the socket: during
   * an upgrade it took the socket over, and upstream's file in front of ours must go; in a rollback
   * upstream's daemon took the socket before writing its file, which then stays. Default: yes.
   */
  mayReplaceForeign?: () => Promise<boolean>;
}

export class ConfigGenerator {
  readonly #opts: ConfigGeneratorOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #current: GeneratedConfig | undefined;
  #running: Promise<void> = Promise.resolve();
  #pending = false;
  #lastProblem = "";
  #stopped = false;

  constructor(opts: ConfigGeneratorOptions) {
    this.#opts = opts;
  }

  get current(): GeneratedConfig | undefined {
    return this.#current;
  }

  /** The last problem logged (no master, a file that does not parse, …); undefined once a config is written. */
  get problem(): string | undefined {
    return this.#lastProblem === "" ? undefined : this.#lastProblem;
  }

  /** Writes the config once (resolves false while no master exists), then keeps it true until stop(). */
  async start(): Promise<boolean> {
    if (this.#stopped) return false;
    const dir = this.#opts.config.multusAutoconfigDir;
    await this.sync("start-up");
    try {
      this.#watcher = watch(dir, { persistent: false }, () => {
        this.#schedule("directory changed");
      });
      this.#watcher.on("error", (err) => {
        this.#opts.log.warn({ dir, error: err.message }, "watching the CNI config directory failed; the periodic resync goes on");
      });
    } catch (err) {
      this.#opts.log.warn({ dir, error: (err as Error).message }, "cannot watch the CNI config directory; the periodic resync keeps the config true");
    }
    this.#timer = setInterval(() => {
      this.#schedule("resync");
    }, this.#opts.resyncMs ?? 2000);
    this.#timer.unref();
    return this.#current !== undefined;
  }

  /** Stops watching. The file stays where it is: pods scheduled while the daemon restarts still get Multus. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
  }

  #schedule(reason: string): void {
    if (this.#stopped || this.#pending) return;
    this.#pending = true;
    // Coalesce bursts (an editor's write + rename) into one sync.
    setTimeout(() => {
      this.#pending = false;
      void this.sync(reason);
    }, 50).unref();
  }

  /** One pass: find the master, render, write when different. Serialised; never throws. */
  sync(reason: string): Promise<void> {
    this.#running = this.#running.then(() => (this.#stopped ? undefined : this.#syncOnce(reason))).catch((err: unknown) => {
      this.#problem(`config generation failed: ${(err as Error).message}`);
    });
    return this.#running;
  }

  async #syncOnce(reason: string): Promise<void> {
    const c = this.#opts.config;
    const rendered = c.multusConfigFile === "auto" ? await this.#renderAuto() : await this.#renderCopy(c.multusConfigFile);
    if (rendered === undefined) return;
    const onDisk = await readFile(rendered.path, "utf8").catch(() => undefined);
    // Noted also when already there (an older Multus-TS may have written it, unnoted): uninstall
    // must know it for ours.
    await noteWritten(rendered.path, rendered.content);
    if (onDisk !== rendered.content) {
      await writeFileAtomic(rendered.path, rendered.content, { mode: 0o600 });
      this.#opts.log.info({ path: rendered.path, master: rendered.master, reason }, onDisk === undefined ? "wrote the Multus CNI config" : "rewrote the Multus CNI config");
      this.#opts.onWrite?.(rendered, reason);
    }
    // Only one Multus config may exist under our two names, or the runtime could pick the stale one;
    // another Multus's only while this one is the newest (mayReplaceForeign).
    const other = rendered.path.endsWith(".conflist") ? rendered.path.slice(0, -4) : `${rendered.path}list`;
    if (await isOurs(other)) {
      if (await writtenByUs(other)) {
        await rm(other, { force: true });
      } else if (await (this.#opts.mayReplaceForeign?.() ?? Promise.resolve(true))) {
        await rm(other, { force: true });
        this.#opts.log.info({ path: other }, "removed another Multus's config (upstream's during an upgrade): this one is in front now");
      }
    }
    this.#current = rendered;
    this.#lastProblem = "";
  }

  async #renderAuto(): Promise<GeneratedConfig | undefined> {
    const c = this.#opts.config;
    const master = await this.#findMaster();
    if (master === undefined) return undefined;
    const masterVersion = typeof master.json["cniVersion"] === "string" && master.json["cniVersion"] !== "" ? master.json["cniVersion"] : "1.0.0";
    const cniVersion = c.cniVersion ?? masterVersion;
    const conflist = versionAtLeast(cniVersion, "1.0.0");
    const capabilities: Record<string, boolean> = { ...capabilitiesOf(master.json), ...c.capabilities };
    const name = c.overrideNetworkName && typeof master.json["name"] === "string" && master.json["name"] !== "" ? master.json["name"] : "multus-cni-network";
    const type = this.#opts.pluginType ?? SHIM_TYPE;
    const plugin: Record<string, unknown> = { type, ...c.overrides, clusterNetwork: master.path };
    if (type === SHIM_TYPE) plugin["daemonSocketDir"] = c.socketDir;
    if (Object.keys(capabilities).length > 0) plugin["capabilities"] = sortKeys(capabilities);
    const doc = conflist ? { cniVersion, name, plugins: [plugin] } : { cniVersion, name, ...plugin };
    const file = `${MULTUS_CONFIG_PREFIX}.${conflist ? "conflist" : "conf"}`;
    return { path: join(c.cniConfigDir, file), master: master.path, content: `${JSON.stringify(doc, null, 2)}\n` };
  }

  async #renderCopy(source: string): Promise<GeneratedConfig | undefined> {
    const content = await readFile(source, "utf8").catch((err: unknown) => {
      this.#problem(`cannot read multusConfigFile ${source}: ${(err as Error).message}`);
      return undefined;
    });
    if (content === undefined) return undefined;
    const json = safeJson(content);
    if (!isRecord(json)) {
      this.#problem(`multusConfigFile ${source} is not a JSON object; the current config is left as it is`);
      return undefined;
    }
    const overrides = this.#opts.config.overrides;
    const plugins: unknown[] = Array.isArray(json["plugins"]) ? (json["plugins"] as unknown[]) : [];
    const first = plugins[0];
    const doc = isRecord(first) ? { ...json, plugins: [{ ...first, ...overrides }, ...plugins.slice(1)] } : { ...json, ...overrides };
    const base = source.split("/").pop() ?? `${MULTUS_CONFIG_PREFIX}.conf`;
    return { path: join(this.#opts.config.cniConfigDir, base), master: undefined, content: `${JSON.stringify(doc, null, 2)}\n` };
  }

  async #findMaster(): Promise<{ path: string; json: Record<string, unknown> } | undefined> {
    const c = this.#opts.config;
    const dir = c.multusAutoconfigDir;
    let names: string[];
    if (c.multusMasterCNI !== undefined) {
      names = [c.multusMasterCNI];
    } else {
      try {
        names = (await readdir(dir)).filter((n) => (n.endsWith(".conf") || n.endsWith(".conflist")) && !n.startsWith(MULTUS_CONFIG_PREFIX)).sort();
      } catch (err) {
        this.#problem(`cannot list ${dir}: ${(err as Error).message}`);
        return undefined;
      }
    }
    const passed: string[] = [];
    for (const n of names) {
      const path = join(dir, n);
      const json = safeJson(await readFile(path, "utf8").catch(() => ""));
      if (!isRecord(json)) {
        // Not the next file instead: this one is first in line, and is probably being written.
        const kept = this.#current === undefined ? "nothing written yet" : `${this.#current.path} stays as it is`;
        this.#problem(`the master CNI config ${path} is not a JSON object (being written?): ${kept} until it parses`);
        return undefined;
      }
      if (isMultusConfig(json)) {
        passed.push(`${n} (a Multus config; Multus never delegates to itself)`);
        continue;
      }
      return { path, json };
    }
    const kept = this.#current === undefined ? "" : `; ${this.#current.path} stays as it is`;
    this.#problem(`no master CNI config in ${dir}${passed.length > 0 ? ` (passed over: ${passed.join(", ")})` : ""}: waiting for the cluster network to write one${kept}`);
    return undefined;
  }

  #problem(message: string): void {
    // Logged once per distinct problem: the resync runs every few seconds.
    if (message === this.#lastProblem) return;
    this.#lastProblem = message;
    this.#opts.log.error({ dir: this.#opts.config.multusAutoconfigDir }, message);
  }
}

/** A Multus config (type multus or multus-shim, alone or in a list): never a master, and ours to remove. */
export function isMultusConfig(json: Record<string, unknown>): boolean {
  if (typeof json["type"] === "string" && MULTUS_TYPES.has(json["type"])) return true;
  const plugins = json["plugins"];
  return Array.isArray(plugins) && plugins.some((p) => isRecord(p) && typeof p["type"] === "string" && MULTUS_TYPES.has(p["type"]));
}

/** The record of what Multus-TS wrote into a CNI config directory (see the header). */
export function writtenRecordPath(configPath: string): string {
  return join(dirname(configPath), "multus.d", "written-configs.json");
}

/** The versions kept: a daemon rewrites its file when the master or the daemon config changes. */
const WRITTEN_KEPT = 32;

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

async function readWritten(record: string): Promise<string[] | undefined> {
  const json = safeJson(await readFile(record, "utf8").catch(() => ""));
  return isRecord(json) && Array.isArray(json["sha256"]) ? json["sha256"].filter((h): h is string => typeof h === "string") : undefined;
}

/** Notes `content` as written by Multus-TS at `path`, before it is written (a crash in between leaves a note, never an unnoted file). */
export async function noteWritten(path: string, content: string): Promise<void> {
  const record = writtenRecordPath(path);
  const hash = sha256(content);
  const known = (await readWritten(record)) ?? [];
  if (known.includes(hash)) return;
  await mkdir(dirname(record), { recursive: true, mode: 0o700 });
  await writeFileAtomic(record, `${JSON.stringify({ sha256: [...known, hash].slice(-WRITTEN_KEPT) })}\n`, { mode: 0o600 });
}

/**
 * Whether the Multus config at `path` is one Multus-TS wrote. A directory without the record (a
 * version before it) counts every Multus config as ours, as uninstall always did.
 */
export async function writtenByUs(path: string): Promise<boolean> {
  const known = await readWritten(writtenRecordPath(path));
  if (known === undefined) return true;
  const text = await readFile(path, "utf8").catch(() => undefined);
  return text !== undefined && known.includes(sha256(text));
}

async function isOurs(path: string): Promise<boolean> {
  const json = safeJson(await readFile(path, "utf8").catch(() => ""));
  return isRecord(json) && isMultusConfig(json);
}

/** The capabilities every plugin of the master declares as true. */
export function capabilitiesOf(json: Record<string, unknown>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const plugins = Array.isArray(json["plugins"]) ? (json["plugins"] as unknown[]) : [json];
  for (const p of plugins) {
    if (!isRecord(p) || !isRecord(p["capabilities"])) continue;
    for (const [k, v] of Object.entries(p["capabilities"])) if (v === true) out[k] = true;
  }
  return out;
}

/**
 * Keys in code-unit order, as Go's encoding/json writes map keys (upstream's generated config).
 * Not localeCompare: its ICU collation data costs the daemon ≈ 8 MiB of resident memory.
 */
export function sortKeys(o: Record<string, boolean>): Record<string, boolean> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
