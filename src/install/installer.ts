// multus-install: puts Multus-TS on a node from inside a DaemonSet pod, and takes it off again.
//
//   install(opts)    thick: the host executables (multus-shim, and the thin multus that handles a DEL
//                    while the daemon is down); the daemon writes the CNI config itself.
//                    thin: the executables, the kubeconfig (from the pod's ServiceAccount, refreshed
//                    when the token or CA rotates), and the Multus config: generated from the master
//                    config (auto), copied from a file, or — seed 004's mode, --move-original-config —
//                    the master moved to /etc/cni/multus/net.d/, a NAD of its name in kube-system
//                    (with no config of its own: each node's moved file is the config, since a
//                    primary CNI's config often differs per node) and 10-multus.conf naming it. Unless --skip-config-watch it keeps all of that true
//                    until SIGTERM: a primary CNI that renames our config (Cilium) or rewrites its own
//                    gets the right answer within seconds.
//   uninstall(opts)  from the install record (install-state.ts): originals moved back, our files and
//                    NADs gone, created directories removed when empty: the node as it was.
//
// Nothing here deletes a config on exit unless --cleanup-config-on-exit asks for it (multus#1527).
// Everything that can be checked (sources, the ServiceAccount, a given config file) is checked before
// the first write. One install runs per node at a time: the installer holds a lock next to the record
// for as long as it runs (the thin keeper: its whole life), and uninstall waits for it.
import { watch, type FSWatcher } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFileAtomic } from "../cni/atomic-write.ts";
import { isRecord } from "../cni/is-record.ts";
import { capabilitiesOf, ConfigGenerator, isMultusConfig, MULTUS_CONFIG_PREFIX, noteWritten, safeJson, sortKeys, writtenByUs, writtenRecordPath, type GeneratorConfig } from "./config-generator.ts";
import { inClusterConfig } from "../k8s/client-config.ts";
import { KubeApiError } from "../k8s/kube-api-error.ts";
import { KubeClient } from "../k8s/kube-client.ts";
import { isDns1123Label } from "../netattach/address-syntax.ts";
import type { Logger } from "../util/logger.ts";
import { acquireFileLock, readLockNote, type FileLock } from "../util/file-lock.ts";
import { installAlias, installExecutable, sha256File, sweepTemporaries, TEMP_MARK } from "./files.ts";
import { checkHost, checkHostRootMounted } from "./host-check.ts";
import { emptyState, loadState, StateRecorder, type InstallState } from "./install-state.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { reportNodeIdentity } from "../multus/node-identity.ts";

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
  /** The kubeconfig for thin Multus: written here, and named in the config (host paths are mounted at the same paths). */
  kubeconfigPath: string;
  skipBinaryCopy: boolean;
  /** Where the node's / is mounted (--host-root): the host check runs the executables chrooted there. */
  hostRoot: string;
  /** --skip-host-check: install without running the executables on the host first (host-check.ts). */
  skipHostCheck: boolean;
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
  /** --skip-config-watch: how long to wait for a master config (ms); default 60 s. */
  configWaitMs?: number;
}

/**
 * What the host gets from the image: thick adds the shim; `passthru` and `vfioveth` are hard links to `multus`;
 * multus-native.node is the lock module the thin plugin loads from its own directory (without it every
 * lock costs a util-linux `flock` process: src/util/file-lock.ts).
 */
function executablesFor(type: "thick" | "thin"): { files: string[]; aliases: Record<string, string> } {
  return { files: type === "thick" ? ["multus", "multus-shim", "multus-native.node"] : ["multus", "multus-native.node"], aliases: { passthru: "multus", vfioveth: "multus" } };
}

const MOVED_CONFIG_NAME = "10-multus.conf";
/** How long an install or uninstall waits for another one on the same node. */
const LOCK_WAIT_MS = 120_000;
/** How long a one-shot thin install (--skip-config-watch) waits for a master config. */
const CONFIG_WAIT_MS = 60_000;
/** How often an unchanged moved config's NAD is checked again (someone may have deleted it). */
const NAD_RECHECK_MS = 5 * 60_000;
const MANAGED_BY = { "app.kubernetes.io/managed-by": "multus-install" };

export interface RunningInstall {
  /** Resolves when the watch loop has stopped (at once with --skip-config-watch or thick). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function install(o: InstallOptions): Promise<RunningInstall> {
  const kubeconfig = await preflight(o);
  const stateDir = dirname(o.statePath);
  if (!(await exists(stateDir))) await createStateDir(o, stateDir);
  const lock = await lockInstall(o.statePath, "install");
  try {
    // Under the lock: a leftover state directory under construction is no other installer's.
    await sweepTemporaries(dirname(stateDir));
    return await installLocked(o, kubeconfig, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The record's directory appears together with a record that says it was created: built under a
 * temporary name and renamed into place, so a kill at any moment leaves either nothing of ours or a
 * record that covers the directory (a temporary leftover is swept by the next install or uninstall).
 */
async function createStateDir(o: InstallOptions, stateDir: string): Promise<void> {
  await mkdir(dirname(stateDir), { recursive: true });
  const tmp = await mkdtemp(join(dirname(stateDir), `.${basename(stateDir)}${TEMP_MARK}`));
  const state = { ...emptyState(o.type), createdDirs: [stateDir] };
  await writeFileAtomic(join(tmp, basename(o.statePath)), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  try {
    await rename(tmp, stateDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Made by someone else a moment ago: theirs, not ours.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST" && (err as NodeJS.ErrnoException).code !== "ENOTEMPTY") throw err;
  }
}

/** What would fail later, checked before anything is written. Returns the kubeconfig (thin auto). */
async function preflight(o: InstallOptions): Promise<string | undefined> {
  if (!o.skipBinaryCopy) {
    for (const name of executablesFor(o.type).files) {
      const src = join(o.sourceDir, name);
      const st = await stat(src).catch((err: unknown) => {
        throw new Error(`cannot install ${name}: ${src}: ${(err as Error).message} (is --source-dir the image's executable directory?)`, { cause: err });
      });
      if (!st.isFile()) throw new Error(`cannot install ${name}: ${src} is not a file`);
    }
    if (!o.skipHostCheck) await checkHostRootMounted(o.hostRoot);
  }
  if (o.type === "thick") return undefined;
  if (o.multusConfFile !== "auto") {
    const json = safeJson(await readFile(o.multusConfFile, "utf8").catch((err: unknown) => {
      throw new Error(`--multus-conf-file ${o.multusConfFile}: ${(err as Error).message}`, { cause: err });
    }));
    if (!isRecord(json)) throw new Error(`--multus-conf-file ${o.multusConfFile} is not a JSON object`);
    return undefined;
  }
  // Thin: the kubeconfig needs the pod's ServiceAccount; without it nothing is installed.
  return renderKubeconfig({ saDir: o.saDir, env: o.env, insecureSkipTlsVerify: o.skipTlsVerify });
}

/** The per-node install lock (next to the record): one installer or uninstaller at a time. */
async function lockInstall(statePath: string, what: string): Promise<FileLock> {
  const path = `${statePath}.lock`;
  const lock = await acquireFileLock(path, { mode: "exclusive", deadline: Date.now() + LOCK_WAIT_MS }).catch((err: unknown) => {
    const holder = readLockNote(path);
    throw new Error(
      `another multus-install runs on this node${holder === undefined ? "" : ` (${holder})`} and held ${path} for ${String(LOCK_WAIT_MS / 1000)} s: ` +
        (what === "uninstall" ? "delete the multus DaemonSet and wait for its pods to go (kubectl delete --cascade=foreground) before uninstalling" : "is an old DaemonSet pod still running?"),
      { cause: err },
    );
  });
  lock.note(`multus-install ${what}, pid ${String(process.pid)}`);
  return lock;
}

async function installLocked(o: InstallOptions, kubeconfig: string | undefined, lock: FileLock): Promise<RunningInstall> {
  const rec = new StateRecorder(o.statePath, (await loadState(o.statePath)) ?? emptyState(o.type));
  rec.state.type = o.type;
  await rec.save();
  await ensureDir(o.cniBinDir, rec);
  // What a killed installer left: temporary copies are never useful, only large.
  await sweepTemporaries(o.cniBinDir);
  await sweepTemporaries(dirname(o.statePath), { atomicWrites: true });
  if (!o.skipBinaryCopy) await installBinaries(o, rec);
  // Before anything makes the runtime call Multus: a node that cannot run it must not get a config
  // naming it (thin: every pod; thick: the daemon's config, which waits for this initContainer).
  // With --skip-multus-binary-copy the executables are not ours to check (the thin DaemonSet's
  // keeper runs after its initContainer checked them).
  if (!o.skipBinaryCopy && o.skipHostCheck) {
    o.log.warn({ binDir: o.cniBinDir }, "host check skipped (--skip-host-check): nothing proved that this node can run the installed executables");
  } else if (!o.skipBinaryCopy) {
    await checkHost({ type: o.type, hostRoot: o.hostRoot, cniBinDir: o.cniBinDir, log: o.log });
  }

  // The daemon (thick) or this installer (thin) writes these; uninstall removes them when they are Multus configs.
  for (const ext of ["conf", "conflist"]) await rec.noteMultusConfig(join(o.cniConfDir, `${MULTUS_CONFIG_PREFIX}.${ext}`));
  if (o.type === "thick") {
    lock.release();
    o.log.info({ binDir: o.cniBinDir }, "thick mode installed: the daemon writes the CNI config");
    return { done: Promise.resolve(), stop: () => Promise.resolve() };
  }

  await ensureDir(dirname(o.kubeconfigPath), rec);
  const refreshKubeconfig = async (reason: string, known?: string): Promise<void> => {
    const content = known ?? (await renderKubeconfig({ saDir: o.saDir, env: o.env, insecureSkipTlsVerify: o.skipTlsVerify }));
    const onDisk = await readFile(o.kubeconfigPath, "utf8").catch(() => undefined);
    if (onDisk === content) return;
    await preserveOriginal(rec, o.kubeconfigPath, "kubeconfig");
    await writeFileAtomic(o.kubeconfigPath, content, { mode: 0o600 });
    o.log.info({ path: o.kubeconfigPath, reason }, onDisk === undefined ? "wrote the kubeconfig for thin Multus" : "refreshed the kubeconfig for thin Multus (token or CA changed)");
  };
  if (o.multusConfFile === "auto") await refreshKubeconfig("install", kubeconfig);

  const keeper = o.moveOriginalConfig || o.renameConfFile ? new MovedConfigKeeper(o, rec) : generatorKeeper(o, rec);
  await keeper.sync("install");
  if (o.skipConfigWatch) {
    // A one-shot install (the initContainer) must not report success without a config: wait a
    // while for the cluster network to write its own, then fail with what is missing.
    const deadline = Date.now() + (o.configWaitMs ?? CONFIG_WAIT_MS);
    while (!keeper.written() && Date.now() < deadline) {
      await sleep(Math.min(o.resyncMs ?? 5000, 1000));
      await keeper.sync("waiting for the master config");
    }
    await keeper.stop();
    lock.release();
    if (!keeper.written()) throw new Error(`no Multus config written in ${o.cniConfDir}: ${keeper.problem() ?? "no master CNI config"}`);
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
  // The kubelet swaps the ServiceAccount volume's ..data link on rotation; a primary CNI renames our
  // config or writes its own: react at once, not at the next resync.
  const watchers = [watchDir(o.saDir, () => { tick("service account volume changed"); }), watchDir(o.cniConfDir, () => { tick("config directory changed"); })];
  const timer = setInterval(() => {
    tick("resync");
  }, o.resyncMs ?? 5000);
  o.log.info({ confDir: o.cniConfDir, kubeconfig: o.kubeconfigPath }, "thin mode installed; keeping the config and kubeconfig true");
  // Once: whether the API server binds the kubeconfig's token (this pod's) to this node, as the
  // node-scoped-writes policy needs (docs/security.md). The DaemonSet names the node.
  const nodeName = o.env["MULTUS_NODE_NAME"] ?? "";
  if (nodeName !== "" && o.multusConfFile === "auto") {
    void (async () => {
      const client = new KubeClient(await inClusterConfig(o.env, o.saDir), { logger: o.log, userAgent: "multus-install" });
      try {
        await reportNodeIdentity(client, nodeName, o.log, AbortSignal.timeout(15_000));
      } finally {
        client.close();
      }
    })().catch((err: unknown) => {
      o.log.warn({ error: (err as Error).message }, "cannot check the kubeconfig's identity");
    });
  }
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    for (const w of watchers) w?.close();
    await running;
    await keeper.stop();
    if (o.cleanupConfigOnExit) {
      for (const p of rec.state.multusConfigs) if (await isOurMultusConfig(p)) await rm(p, { force: true });
      o.log.info({}, "removed the Multus config on exit (--cleanup-config-on-exit)");
    }
    lock.release();
    resolveDone();
  };
  return { done, stop };
}

async function installBinaries(o: InstallOptions, rec: StateRecorder): Promise<void> {
  const { files, aliases } = executablesFor(o.type);
  for (const name of files) {
    const src = join(o.sourceDir, name);
    const dest = join(o.cniBinDir, name);
    const sha256 = await sha256File(src);
    await preserveOriginal(rec, dest, "executable");
    // Recorded before the copy, beside the hashes of earlier installs: a copy killed half-way leaves
    // either of them on disk, and uninstall recognises both as ours.
    await rec.noteHash(dest, sha256);
    const outcome = await installExecutable(src, dest);
    o.log.info({ from: src, to: dest, outcome }, outcome === "copied" ? "installed an executable" : "executable already up to date");
  }
  for (const [alias, target] of Object.entries(aliases)) {
    const path = join(o.cniBinDir, alias);
    await preserveOriginal(rec, path, "alias");
    await installAlias(join(o.cniBinDir, target), path);
  }
}

/**
 * The first time the installer is about to replace a file it did not write (an upstream Multus
 * binary, an existing kubeconfig), that file is copied next to the record, so that uninstall can put
 * it back. Later calls only make sure the path is recorded.
 */
async function preserveOriginal(rec: StateRecorder, path: string, kind: InstallState["files"][number]["kind"]): Promise<void> {
  if (rec.state.files.some((f) => f.path === path)) return;
  const st = await stat(path).catch(() => undefined);
  if (st?.isFile() !== true) {
    await rec.noteFile({ path, kind });
    return;
  }
  const backup = join(dirname(rec.path), "originals", path.replace(/\//g, "%"));
  await mkdir(dirname(backup), { recursive: true });
  await copyFile(path, `${backup}.tmp`);
  await rename(`${backup}.tmp`, backup);
  await rec.noteFile({ path, kind, backup });
}

interface Keeper {
  sync(reason: string): Promise<void>;
  stop(): Promise<void>;
  /** A Multus config is in place. */
  written(): boolean;
  /** Why not, when not. */
  problem(): string | undefined;
}

/** Auto mode or a given file: the daemon's generator, writing a `type: multus` config. */
function generatorKeeper(o: InstallOptions, rec: StateRecorder): Keeper {
  const config: GeneratorConfig = {
    cniConfigDir: o.cniConfDir,
    multusAutoconfigDir: o.multusAutoconfigDir,
    multusConfigFile: o.multusConfFile,
    overrideNetworkName: o.overrideNetworkName,
    multusMasterCNI: o.multusMasterCniFileName,
    cniVersion: o.cniVersion,
    capabilities: {},
    overrides: { ...(o.multusConfFile === "auto" ? { kubeconfig: o.kubeconfigPath } : {}), ...o.thinKeys },
    socketDir: "",
  };
  const generator = new ConfigGenerator({ config, log: o.log, pluginType: "multus", resyncMs: o.resyncMs ?? 5000 });
  return {
    sync: async (reason) => {
      if (o.multusConfFile !== "auto") await rec.noteMultusConfig(join(o.cniConfDir, o.multusConfFile.split("/").pop() ?? ""));
      await generator.sync(reason);
    },
    stop: () => generator.stop(),
    written: () => generator.current !== undefined,
    problem: () => generator.problem,
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
  #nadEnsured: { name: string; at: number } | undefined;
  #lastProblem = "";
  #written = false;

  constructor(o: InstallOptions, rec: StateRecorder) {
    this.#o = o;
    this.#rec = rec;
  }

  written(): boolean {
    return this.#written;
  }

  problem(): string | undefined {
    return this.#lastProblem === "" ? undefined : this.#lastProblem;
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
    if (o.moveOriginalConfig) await this.#ensureNad(name, master.to);
    const content = this.#render(json, o.moveOriginalConfig ? name : master.to);
    const onDisk = await readFile(ours, "utf8").catch(() => undefined);
    if (onDisk !== content) {
      await noteWritten(ours, content);
      await writeFileAtomic(ours, content, { mode: 0o600 });
      o.log.info({ path: ours, clusterNetwork: o.moveOriginalConfig ? name : master.to, reason }, onDisk === undefined ? "wrote the Multus CNI config" : "rewrote the Multus CNI config");
    }
    this.#written = true;
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
    const movedFrom = new Set(this.#rec.state.moved.map((m) => m.from));
    for (const n of names) {
      const path = join(o.cniConfDir, n);
      if (path === ours) continue;
      if (fixed !== undefined && n !== fixed) continue;
      // Once something is moved, only a config that would win over ours, or one the primary CNI
      // writes again under a name moved before (10-weave.conflist sorts after 10-multus.conf).
      if (fixed === undefined && this.#rec.state.moved.length > 0 && n > MOVED_CONFIG_NAME && !movedFrom.has(path)) continue;
      const json = safeJson(await readFile(path, "utf8").catch(() => ""));
      if (!isRecord(json)) {
        this.#problem(`the CNI config ${path} is not JSON (being written?): waiting until it parses`);
        return undefined;
      }
      if (isMultusConfig(json)) continue;
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
      await this.#ensureNad(name, from);
      await ensureDir(o.multusCniConfDir, this.#rec);
      // Seed 004: /etc/cni/net.d/10-kindnet.conflist → /etc/cni/multus/net.d/kindnet.conflist.
      to = join(o.multusCniConfDir, `${name}${extname(from)}`);
    } else {
      to = `${from}.old`;
    }
    if (!this.#rec.state.moved.some((m) => m.to === to)) await preserveOriginal(this.#rec, to, "preserved");
    await this.#rec.noteMove(from, to);
    await moveFile(from, to);
    // The newest move is the master: keep it last in the record.
    this.#rec.state.moved = [...this.#rec.state.moved.filter((m) => !(m.from === from && m.to === to)), { from, to }];
    await this.#rec.save();
    o.log.info({ from, to, reason }, "moved the master CNI config aside");
  }

  /**
   * The NAD that names the original network, with no config of its own: the engine then reads
   * `<name>` from confDir (each node's own moved file), as seed 004's installer does. A config in
   * the NAD would be one node's, and every node's pods would get it.
   */
  async #ensureNad(name: string, file: string): Promise<void> {
    const o = this.#o;
    // Once, and again after a while (someone may delete it): a GET per node per resync would load the API.
    if (this.#nadEnsured?.name === name && Date.now() - this.#nadEnsured.at < NAD_RECHECK_MS) return;
    this.#client ??= new KubeClient(await inClusterConfig(o.env, o.saDir), { logger: o.log, userAgent: "multus-install" });
    const base = `/apis/k8s.cni.cncf.io/v1/namespaces/${o.nadNamespace}/network-attachment-definitions`;
    const body = { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name, namespace: o.nadNamespace, labels: MANAGED_BY }, spec: {} };
    let existing: unknown;
    try {
      existing = await this.#client.get(`${base}/${name}`);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.httpStatus === 404)) throw err;
    }
    if (existing === undefined) {
      await this.#rec.noteNad(o.nadNamespace, name);
      try {
        await this.#client.create(base, body);
        o.log.info({ nad: `${o.nadNamespace}/${name}`, file }, "created the NetworkAttachmentDefinition for the original cluster network");
      } catch (err) {
        // Another node made it a moment ago: the same object.
        if (!(err instanceof KubeApiError && err.httpStatus === 409)) throw err;
      }
      this.#nadEnsured = { name, at: Date.now() };
      return;
    }
    const spec = isRecord(existing) && isRecord(existing["spec"]) ? existing["spec"] : {};
    if (typeof spec["config"] === "string" && spec["config"] !== "") {
      throw new Error(
        `NetworkAttachmentDefinition ${o.nadNamespace}/${name} exists with a config of its own, which would replace every node's ${file}: delete it (multus-install makes one without a config) or rename the network in ${file}`,
      );
    }
    this.#nadEnsured = { name, at: Date.now() };
  }

  #render(master: Record<string, unknown>, clusterNetwork: string): string {
    const o = this.#o;
    const cniVersion = o.cniVersion ?? (typeof master["cniVersion"] === "string" && master["cniVersion"] !== "" ? master["cniVersion"] : "1.0.0");
    const capabilities = sortKeys(capabilitiesOf(master));
    const doc: Record<string, unknown> = {
      cniVersion,
      name: o.overrideNetworkName && typeof master["name"] === "string" ? master["name"] : "multus-cni-network",
      type: "multus",
      kubeconfig: o.kubeconfigPath,
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
  if ((await loadState(o.statePath)) === undefined) {
    // An install killed before its record existed left at most a temporary directory.
    await sweepTemporaries(dirname(dirname(o.statePath)));
    o.log.info({ record: o.statePath }, "no install record: nothing to uninstall");
    return { restored: 0, removed: 0, kept: [] };
  }
  // A running installer (a thin keeper) would put back what this removes.
  const lock = await lockInstall(o.statePath, "uninstall");
  let result: { restored: number; removed: number; kept: string[]; createdDirs: string[] };
  try {
    result = await uninstallLocked(o);
  } finally {
    lock.release({ unlink: true });
  }
  // The directories it created, once empty (the lock file was the last thing in the record's).
  for (const dir of [...result.createdDirs].reverse()) await rmdir(dir).catch(() => undefined);
  const { restored, removed, kept } = result;
  o.log.info({ restored, removed, kept }, "uninstalled Multus-TS from this node");
  return { restored, removed, kept };
}

async function uninstallLocked(o: UninstallOptions): Promise<{ restored: number; removed: number; kept: string[]; createdDirs: string[] }> {
  const state = await loadState(o.statePath);
  if (state === undefined) return { restored: 0, removed: 0, kept: [], createdDirs: [] };
  let restored = 0;
  let removed = 0;
  const kept: string[] = [];
  // Configs first, so the runtime stops calling Multus before its executables go.
  for (const path of state.multusConfigs) {
    if (await isOurMultusConfig(path)) {
      await rm(path, { force: true });
      removed++;
    } else if (await isMultusConfigFile(path)) {
      // Another Multus's (upstream's, after a rollback to it): it is that Multus's to keep or remove.
      kept.push(`${path} (a Multus config Multus-TS did not write)`);
    }
  }
  // The record of what was written goes with the configs (its directory with the install record's).
  for (const record of new Set(state.multusConfigs.map((p) => writtenRecordPath(p)))) await rm(record, { force: true });
  for (const m of [...state.moved].reverse()) {
    if (!(await exists(m.to))) {
      if (!(await exists(m.from))) {
        kept.push(`${m.from} (moved to ${m.to}, which is gone: the original config is lost, the cluster network must write it again)`);
        o.log.error({ from: m.from, to: m.to }, "the moved original CNI config is missing; it cannot be put back");
      }
      continue;
    }
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
    if (f.kind !== "preserved" && (await exists(f.path))) {
      const hashes = f.sha256s ?? [];
      if (hashes.length > 0 && !hashes.includes(await sha256File(f.path))) {
        kept.push(`${f.path} (changed since multus-install wrote it)`);
        continue;
      }
      // An alias is ours while it is still our multus (a link, or a copy where links are refused;
      // aliases come after multus in the record, so multus is still there when one is looked at).
      if (f.kind === "alias" && !(await sameFile(f.path, join(dirname(f.path), "multus")))) {
        kept.push(`${f.path} (no longer a link to multus)`);
        continue;
      }
      await rm(f.path, { force: true });
      removed++;
    }
    // What was there before the install goes back.
    if (f.backup !== undefined && (await exists(f.backup)) && !(await exists(f.path))) {
      await rename(f.backup, f.path);
      restored++;
    }
  }
  await sweepTemporaries(dirname(o.statePath), { atomicWrites: true });
  for (const dir of new Set(state.multusConfigs.map((p) => dirname(p)))) await sweepTemporaries(dir, { atomicWrites: true });
  for (const dir of new Set(state.files.filter((f) => f.kind === "executable" || f.kind === "alias").map((f) => dirname(f.path)))) await sweepTemporaries(dir);
  await rm(join(dirname(o.statePath), "originals"), { recursive: true, force: true });
  await rm(o.statePath, { force: true });
  return { restored, removed, kept, createdDirs: state.createdDirs };
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

/** fs.watch on `dir`, or undefined where inotify is unavailable (the periodic resync covers it). */
function watchDir(dir: string, onChange: () => void): FSWatcher | undefined {
  try {
    const w = watch(dir, { persistent: false }, onChange);
    w.on("error", () => undefined);
    return w;
  } catch {
    return undefined;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  if (sa === undefined || sb === undefined) return false;
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  return sa.size === sb.size && (await sha256File(a)) === (await sha256File(b));
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined)) !== undefined;
}

async function isMultusConfigFile(path: string): Promise<boolean> {
  const json = safeJson(await readFile(path, "utf8").catch(() => ""));
  return isRecord(json) && isMultusConfig(json);
}

/** A Multus config that Multus-TS wrote (config-generator.ts, writtenByUs). */
async function isOurMultusConfig(path: string): Promise<boolean> {
  return (await isMultusConfigFile(path)) && (await writtenByUs(path));
}
