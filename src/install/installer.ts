// multus-install: puts Multus-TS on a node from inside a DaemonSet pod, and takes it off again.
//
//   install(opts)    thick: the host executables (multus-shim, and the thin multus that handles a DEL
//                    while the daemon is down); the daemon writes the CNI config itself.
//                    thin: the executables, the kubeconfig (from the pod's ServiceAccount, refreshed
//                    when the token or CA rotates), and the Multus config: generated from the master
//                    config (auto), copied from a file, or — seed 004's mode, --move-original-config —
//                    the master moved to /etc/cni/multus/net.d/, a NAD for it in kube-system and
//                    10-multus.conf pointing at it. Unless --skip-config-watch it keeps all of that true
//                    until SIGTERM: a primary CNI that renames our config (Cilium) or rewrites its own
//                    gets the right answer within seconds.
//   uninstall(opts)  from the install record (install-state.ts): originals moved back, our files and
//                    NADs gone, created directories removed when empty: the node as it was.
//
// Nothing here deletes a config on exit unless --cleanup-config-on-exit asks for it (multus#1527).
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { isRecord } from "../cni/is-record.ts";
import { ConfigGenerator, MULTUS_CONFIG_PREFIX, type GeneratorConfig } from "./config-generator.ts";
import { inClusterConfig } from "../k8s/client-config.ts";
import { KubeApiError } from "../k8s/kube-api-error.ts";
import { KubeClient } from "../k8s/kube-client.ts";
import { isDns1123Label } from "../netattach/address-syntax.ts";
import type { Logger } from "../util/logger.ts";
import { installAlias, installExecutable, sha256File } from "./files.ts";
import { emptyState, loadState, StateRecorder } from "./install-state.ts";
import { renderKubeconfig } from "./kubeconfig.ts";

export interface InstallOptions {
  type: "thick" | "thin";
  /** Where the executables to install are (the image's /usr/local/bin: this executable's directory). */
  sourceDir: string;
  cniBinDir: string;
  cniConfDir: string;
  /** Where --move-original-config puts the master (upstream's --multus-cni-conf-dir). */
  multusCniConfDir: string;
  /** "auto" or a config file to install. */
  multusConfFile: string;
  multusAutoconfigDir: string;
  multusMasterCniFileName: string | undefined;
  /** The kubeconfig's path as the host's multus sees it (written into the config). */
  kubeconfigHostPath: string;
  /** Where this process writes it (the same path unless the host's directory is mounted elsewhere). */
  kubeconfigPath: string;
  skipBinaryCopy: boolean;
  skipConfigWatch: boolean;
  moveOriginalConfig: boolean;
  renameConfFile: boolean;
  cleanupConfigOnExit: boolean;
  overrideNetworkName: boolean;
  cniVersion: string | undefined;
  /** Thin Multus keys for the generated config (namespaceIsolation, logLevel, binDir, …). */
  thinKeys: Record<string, unknown>;
  /** Namespace of the NAD made for a moved config. */
  nadNamespace: string;
  saDir: string;
  env: NodeJS.ProcessEnv;
  skipTlsVerify: boolean;
  statePath: string;
  log: Logger;
  /** The watch loop's period (ms); default 5000. */
  resyncMs?: number;
}

/** What the host gets from the image: thick adds the shim; `passthru` is a hard link to `multus`. */
function executablesFor(type: "thick" | "thin"): { files: string[]; aliases: Record<string, string> } {
  return { files: type === "thick" ? ["multus", "multus-shim"] : ["multus"], aliases: { passthru: "multus" } };
}

const MOVED_CONFIG_NAME = "10-multus.conf";
/** How often an unchanged moved config's NAD is checked again (someone may have deleted it). */
const NAD_RECHECK_MS = 5 * 60_000;
const MANAGED_BY = { "app.kubernetes.io/managed-by": "multus-install" };

export interface RunningInstall {
  /** Resolves when the watch loop has stopped (at once with --skip-config-watch or thick). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function install(o: InstallOptions): Promise<RunningInstall> {
  const rec = new StateRecorder(o.statePath, (await loadState(o.statePath)) ?? emptyState(o.type));
  rec.state.type = o.type;
  await ensureDir(dirname(o.statePath), undefined);
  await rec.save();
  await ensureDir(o.cniBinDir, rec);
  if (!o.skipBinaryCopy) await installBinaries(o, rec);

  // The daemon (thick) or this installer (thin) writes these; uninstall removes them when they are Multus configs.
  for (const ext of ["conf", "conflist"]) await rec.noteMultusConfig(join(o.cniConfDir, `${MULTUS_CONFIG_PREFIX}.${ext}`));
  if (o.type === "thick") {
    o.log.info({ binDir: o.cniBinDir }, "thick mode installed: the daemon writes the CNI config");
    return { done: Promise.resolve(), stop: () => Promise.resolve() };
  }

  await ensureDir(dirname(o.kubeconfigPath), rec);
  const refreshKubeconfig = async (reason: string): Promise<void> => {
    const content = await renderKubeconfig({ saDir: o.saDir, env: o.env, insecureSkipTlsVerify: o.skipTlsVerify });
    const onDisk = await readFile(o.kubeconfigPath, "utf8").catch(() => undefined);
    if (onDisk === content) return;
    await rec.noteFile({ path: o.kubeconfigPath, kind: "kubeconfig" });
    await writeFileAtomic(o.kubeconfigPath, content, { mode: 0o600 });
    o.log.info({ path: o.kubeconfigPath, reason }, onDisk === undefined ? "wrote the kubeconfig for thin Multus" : "refreshed the kubeconfig for thin Multus (token or CA changed)");
  };
  if (o.multusConfFile === "auto") await refreshKubeconfig("install");

  const keeper = o.moveOriginalConfig || o.renameConfFile ? new MovedConfigKeeper(o, rec) : await generatorKeeper(o, rec);
  await keeper.sync("install");
  if (o.skipConfigWatch) {
    await keeper.stop();
    o.log.info({ confDir: o.cniConfDir }, "thin mode installed (not watching: --skip-config-watch)");
    return { done: Promise.resolve(), stop: () => Promise.resolve() };
  }

  // Watch: the ServiceAccount volume (the kubelet swaps its ..data symlink on rotation) and a
  // periodic resync, since inotify misses changes on some file systems.
  let stopped = false;
  let resolveDone = (): void => undefined;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let running: Promise<void> = Promise.resolve();
  const tick = (reason: string): void => {
    running = running
      .then(async () => {
        if (stopped) return;
        if (o.multusConfFile === "auto") await refreshKubeconfig(reason);
        await keeper.sync(reason);
      })
      .catch((err: unknown) => {
        o.log.error({ error: (err as Error).message, reason }, "keeping the Multus install true failed; retrying at the next resync");
      });
  };
  let saWatcher: FSWatcher | undefined;
  try {
    saWatcher = watch(o.saDir, { persistent: false }, () => {
      tick("service account volume changed");
    });
    saWatcher.on("error", () => undefined);
  } catch {
    // The resync covers it.
  }
  let confWatcher: FSWatcher | undefined;
  try {
    // A primary CNI renaming our config or writing its own: react now, not at the next resync.
    confWatcher = watch(o.cniConfDir, { persistent: false }, () => {
      tick("config directory changed");
    });
    confWatcher.on("error", () => undefined);
  } catch {
    // The resync covers it.
  }
  const timer = setInterval(() => {
    tick("resync");
  }, o.resyncMs ?? 5000);
  o.log.info({ confDir: o.cniConfDir, kubeconfig: o.kubeconfigPath }, "thin mode installed; keeping the config and kubeconfig true");
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    saWatcher?.close();
    confWatcher?.close();
    await running;
    await keeper.stop();
    if (o.cleanupConfigOnExit) {
      for (const p of rec.state.multusConfigs) if (await isMultusConfigFile(p)) await rm(p, { force: true });
      o.log.info({}, "removed the Multus config on exit (--cleanup-config-on-exit)");
    }
    resolveDone();
  };
  return { done, stop };
}

async function installBinaries(o: InstallOptions, rec: StateRecorder): Promise<void> {
  const { files, aliases } = executablesFor(o.type);
  for (const name of files) {
    const src = join(o.sourceDir, name);
    const dest = join(o.cniBinDir, name);
    const sha256 = await sha256File(src).catch((err: unknown) => {
      throw new Error(`cannot install ${name}: ${src}: ${(err as Error).message} (is --source-dir the image's executable directory?)`, { cause: err });
    });
    await rec.noteFile({ path: dest, sha256, kind: "executable" });
    const outcome = await installExecutable(src, dest);
    o.log.info({ from: src, to: dest, outcome }, outcome === "copied" ? "installed an executable" : "executable already up to date");
  }
  for (const [alias, target] of Object.entries(aliases)) {
    const path = join(o.cniBinDir, alias);
    await rec.noteFile({ path, kind: "alias" });
    await installAlias(join(o.cniBinDir, target), path);
  }
}

interface Keeper {
  sync(reason: string): Promise<void>;
  stop(): Promise<void>;
}

/** Auto mode or a given file: the daemon's generator, writing a `type: multus` config. */
async function generatorKeeper(o: InstallOptions, rec: StateRecorder): Promise<Keeper> {
  const config: GeneratorConfig = {
    cniConfigDir: o.cniConfDir,
    multusAutoconfigDir: o.multusAutoconfigDir,
    multusConfigFile: o.multusConfFile,
    overrideNetworkName: o.overrideNetworkName,
    multusMasterCNI: o.multusMasterCniFileName,
    cniVersion: o.cniVersion,
    capabilities: {},
    overrides: { ...(o.multusConfFile === "auto" ? { kubeconfig: o.kubeconfigHostPath } : {}), ...o.thinKeys },
    socketDir: "",
  };
  if (o.multusConfFile !== "auto") await rec.noteMultusConfig(join(o.cniConfDir, o.multusConfFile.split("/").pop() ?? ""));
  const generator = new ConfigGenerator({ config, log: o.log, pluginType: "multus", resyncMs: o.resyncMs ?? 5000 });
  return {
    sync: (reason) => generator.sync(reason),
    stop: () => generator.stop(),
  };
}

/**
 * Seed 004: the master config leaves /etc/cni/net.d (unaltered) for multusCniConfDir, a NAD of the
 * same name is made from it, and 10-multus.conf names it as the cluster network. A config that a
 * primary CNI writes again, or a new one that would sort before ours, is moved the same way; ours is
 * put back when something renames it. --rename-conf-file is the same with the master renamed to
 * `<file>.old` in place (upstream's flag), and no NAD.
 */
class MovedConfigKeeper implements Keeper {
  readonly #o: InstallOptions;
  readonly #rec: StateRecorder;
  #client: KubeClient | undefined;
  #nadEnsured: { key: string; at: number } | undefined;
  #lastProblem = "";

  constructor(o: InstallOptions, rec: StateRecorder) {
    this.#o = o;
    this.#rec = rec;
  }

  async sync(reason: string): Promise<void> {
    const o = this.#o;
    const ours = join(o.cniConfDir, MOVED_CONFIG_NAME);
    await this.#rec.noteMultusConfig(ours);
    const candidate = await this.#candidate(ours);
    if (candidate !== undefined) await this.#moveAside(candidate, reason);
    const master = this.#rec.state.moved.at(-1);
    if (master === undefined) {
      this.#problem(`no master CNI config in ${o.cniConfDir} to move aside: waiting for the cluster network to write one`);
      return;
    }
    const text = await readFile(master.to, "utf8").catch(() => undefined);
    const json = text === undefined ? undefined : safeJson(text);
    if (text === undefined || !isRecord(json)) {
      this.#problem(`the moved master config ${master.to} is missing or not JSON; ${ours} is left as it is`);
      return;
    }
    const name = typeof json["name"] === "string" ? json["name"] : "";
    if (o.moveOriginalConfig) await this.#ensureNad(name, text, master.to);
    const content = this.#render(json, o.moveOriginalConfig ? name : master.to);
    const onDisk = await readFile(ours, "utf8").catch(() => undefined);
    if (onDisk !== content) {
      await writeFileAtomic(ours, content, { mode: 0o600 });
      o.log.info({ path: ours, clusterNetwork: o.moveOriginalConfig ? name : master.to, reason }, onDisk === undefined ? "wrote the Multus CNI config" : "rewrote the Multus CNI config");
    }
    this.#lastProblem = "";
  }

  stop(): Promise<void> {
    this.#client?.close();
    return Promise.resolve();
  }

  /** The first non-Multus config that would win over ours (or the first at all before anything was moved). */
  async #candidate(ours: string): Promise<string | undefined> {
    const o = this.#o;
    const names = (await readdir(o.cniConfDir).catch(() => [] as string[]))
      .filter((n) => (n.endsWith(".conf") || n.endsWith(".conflist")) && !n.startsWith("."))
      .sort();
    const fixed = o.multusMasterCniFileName;
    for (const n of names) {
      const path = join(o.cniConfDir, n);
      if (path === ours) continue;
      if (fixed !== undefined && n !== fixed) continue;
      if (fixed === undefined && this.#rec.state.moved.length > 0 && n > MOVED_CONFIG_NAME) continue;
      const json = safeJson(await readFile(path, "utf8").catch(() => ""));
      if (!isRecord(json)) {
        this.#problem(`the CNI config ${path} is not JSON (being written?): waiting until it parses`);
        return undefined;
      }
      if (isMultusJson(json)) continue;
      return path;
    }
    return undefined;
  }

  async #moveAside(from: string, reason: string): Promise<void> {
    const o = this.#o;
    const text = await readFile(from, "utf8");
    const json = safeJson(text);
    if (!isRecord(json)) return;
    let to: string;
    if (o.moveOriginalConfig) {
      const name = typeof json["name"] === "string" ? json["name"] : "";
      if (!isDns1123Label(name)) {
        this.#problem(`cannot move ${from} aside: its network name "${name}" is not a valid NetworkAttachmentDefinition name (lower-case letters, digits, "-"; at most 63)`);
        return;
      }
      // Before the move: with the API unreachable nothing moves, and the node keeps a working config.
      await this.#ensureNad(name, text, from);
      await ensureDir(o.multusCniConfDir, this.#rec);
      // Seed 004: /etc/cni/net.d/10-kindnet.conflist → /etc/cni/multus/net.d/kindnet.conflist.
      to = join(o.multusCniConfDir, `${name}${extname(from)}`);
    } else {
      to = `${from}.old`;
    }
    await this.#rec.noteMove(from, to);
    await moveFile(from, to);
    // The newest move is the master: keep it last in the record.
    this.#rec.state.moved = [...this.#rec.state.moved.filter((m) => !(m.from === from && m.to === to)), { from, to }];
    await this.#rec.save();
    o.log.info({ from, to, reason }, "moved the master CNI config aside");
  }

  async #ensureNad(name: string, config: string, file: string): Promise<void> {
    const o = this.#o;
    // Once per content (and again after a while): a GET per node every resync would load the API.
    const key = `${name}\n${config}`;
    if (this.#nadEnsured?.key === key && Date.now() - this.#nadEnsured.at < NAD_RECHECK_MS) return;
    this.#client ??= new KubeClient(await inClusterConfig(o.env, o.saDir), { logger: o.log, userAgent: "multus-install" });
    const base = `/apis/k8s.cni.cncf.io/v1/namespaces/${o.nadNamespace}/network-attachment-definitions`;
    const body = { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name, namespace: o.nadNamespace, labels: MANAGED_BY }, spec: { config } };
    let existing: unknown;
    try {
      existing = await this.#client.get(`${base}/${name}`);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.httpStatus === 404)) throw err;
    }
    if (existing === undefined) {
      await this.#rec.noteNad(o.nadNamespace, name);
      await this.#client.create(base, body);
      o.log.info({ nad: `${o.nadNamespace}/${name}`, file }, "created the NetworkAttachmentDefinition for the original cluster network");
      this.#nadEnsured = { key, at: Date.now() };
      return;
    }
    const spec = isRecord(existing) && isRecord(existing["spec"]) ? existing["spec"] : {};
    if (spec["config"] === config) {
      this.#nadEnsured = { key, at: Date.now() };
      return;
    }
    const meta = isRecord(existing) && isRecord(existing["metadata"]) ? existing["metadata"] : {};
    const labels = isRecord(meta["labels"]) ? meta["labels"] : {};
    if (labels["app.kubernetes.io/managed-by"] !== "multus-install") {
      throw new Error(`NetworkAttachmentDefinition ${o.nadNamespace}/${name} exists, was not made by multus-install and holds a different config than ${file}: delete or rename it, or rename the network in ${file}`);
    }
    await this.#client.patch(`${base}/${name}`, { spec: { config } }, "merge");
    o.log.info({ nad: `${o.nadNamespace}/${name}`, file }, "updated the NetworkAttachmentDefinition: the original cluster network's config changed");
    this.#nadEnsured = { key, at: Date.now() };
  }

  #render(master: Record<string, unknown>, clusterNetwork: string): string {
    const o = this.#o;
    const cniVersion = o.cniVersion ?? (typeof master["cniVersion"] === "string" && master["cniVersion"] !== "" ? master["cniVersion"] : "1.0.0");
    const capabilities = capabilitiesOf(master);
    const doc: Record<string, unknown> = {
      cniVersion,
      name: o.overrideNetworkName && typeof master["name"] === "string" ? master["name"] : "multus-cni-network",
      type: "multus",
      kubeconfig: o.kubeconfigHostPath,
      ...(o.moveOriginalConfig ? { confDir: o.multusCniConfDir, multusNamespace: o.nadNamespace } : {}),
      ...o.thinKeys,
      clusterNetwork,
    };
    if (Object.keys(capabilities).length > 0) doc["capabilities"] = capabilities;
    return `${JSON.stringify(doc, null, 2)}\n`;
  }

  #problem(message: string): void {
    if (message === this.#lastProblem) return;
    this.#lastProblem = message;
    this.#o.log.error({ dir: this.#o.cniConfDir }, message);
  }
}

export interface UninstallOptions {
  statePath: string;
  saDir: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/** Undo what the record says, newest first. Tolerates a partial install and being run twice. */
export async function uninstall(o: UninstallOptions): Promise<{ restored: number; removed: number; kept: string[] }> {
  const state = await loadState(o.statePath);
  if (state === undefined) {
    o.log.info({ record: o.statePath }, "no install record: nothing to uninstall");
    return { restored: 0, removed: 0, kept: [] };
  }
  let restored = 0;
  let removed = 0;
  const kept: string[] = [];
  // Configs first, so the runtime stops calling Multus before its executables go.
  for (const path of state.multusConfigs) {
    if (await isMultusConfigFile(path)) {
      await rm(path, { force: true });
      removed++;
    }
  }
  for (const m of [...state.moved].reverse()) {
    const there = await exists(m.to);
    if (!there) continue;
    if (await exists(m.from)) {
      kept.push(`${m.to} (${m.from} exists again; the moved copy was left where it is)`);
      continue;
    }
    await moveFile(m.to, m.from);
    restored++;
  }
  if (state.nads.length > 0) {
    const client = new KubeClient(await inClusterConfig(o.env, o.saDir), { logger: o.log, userAgent: "multus-install" });
    try {
      for (const n of state.nads) {
        try {
          await client.delete(`/apis/k8s.cni.cncf.io/v1/namespaces/${n.namespace}/network-attachment-definitions/${n.name}`);
          removed++;
        } catch (err) {
          if (!(err instanceof KubeApiError && err.httpStatus === 404)) throw err;
        }
      }
    } finally {
      client.close();
    }
  }
  for (const f of [...state.files].reverse()) {
    if (!(await exists(f.path))) continue;
    if (f.sha256 !== undefined && (await sha256File(f.path)) !== f.sha256) {
      kept.push(`${f.path} (changed since multus-install wrote it)`);
      continue;
    }
    if (f.kind === "config" && !(await isMultusConfigFile(f.path))) {
      kept.push(`${f.path} (no longer a Multus config)`);
      continue;
    }
    await rm(f.path, { force: true });
    removed++;
  }
  await rm(o.statePath, { force: true });
  for (const dir of [dirname(o.statePath), ...[...state.createdDirs].reverse()]) {
    await rmdir(dir).catch(() => undefined); // only when empty
  }
  o.log.info({ restored, removed, kept }, "uninstalled Multus-TS from this node");
  return { restored, removed, kept };
}

async function ensureDir(dir: string, rec: StateRecorder | undefined): Promise<void> {
  if (await exists(dir)) return;
  // Record every level that is new, outermost first, before creating it.
  const missing: string[] = [];
  for (let d = dir; !(await exists(d)); d = dirname(d)) missing.unshift(d);
  if (rec !== undefined) for (const d of missing) await rec.noteDir(d);
  await mkdir(dir, { recursive: true });
}

/** rename, or copy + remove across mount points (host directories are separate mounts in a pod). */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    const text = await readFile(from);
    await writeFileAtomic(to, text, { mode: (await stat(from)).mode & 0o777 });
    await unlink(from);
  }
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

async function isMultusConfigFile(path: string): Promise<boolean> {
  const json = safeJson(await readFile(path, "utf8").catch(() => ""));
  return isRecord(json) && isMultusJson(json);
}

function isMultusJson(json: Record<string, unknown>): boolean {
  const t = (p: unknown): boolean => isRecord(p) && (p["type"] === "multus" || p["type"] === "multus-shim");
  return t(json) || (Array.isArray(json["plugins"]) && (json["plugins"] as unknown[]).some(t));
}

function capabilitiesOf(json: Record<string, unknown>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const plugins = Array.isArray(json["plugins"]) ? (json["plugins"] as unknown[]) : [json];
  for (const p of plugins) {
    if (!isRecord(p) || !isRecord(p["capabilities"])) continue;
    for (const [k, v] of Object.entries(p["capabilities"])) if (v === true) out[k] = true;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
