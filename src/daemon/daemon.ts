// multus-daemon: one per node (thick mode). Start-up, in order:
//   1. the daemon config (daemon-config.ts); unknown keys warned;
//   2. the API client and the informers (this node's pods, every NAD), synced for at most 20 s
//      (upstream's wait) — reads the caches cannot answer yet go to the API;
//   3. the socket: `<socketDir>` 0700, `multus.sock` 0600, taken over from whoever had it (a stale
//      file, or a live daemon being replaced: upstream's during an upgrade, see claimSocket) and
//      watched: put back when another daemon's exit unlinks it, yielded when a newer one takes it;
//   4. the readiness indicator file, when configured, then the CNI config (config-generator.ts);
//   5. /readyz turns 200.
// SIGTERM/SIGINT: /readyz turns 500 and the socket closes (new shims wait for the next daemon, and a
// DEL runs on the host from the journal), requests in flight finish (each bounded by its budget),
// queued events are flushed for a few seconds, and the process exits 0. The CNI config is never
// deleted or emptied (multus#1527, #1387): pods scheduled while the daemon restarts wait in the shim
// for the new daemon instead of starting without their secondary networks.
import { connect } from "node:net";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { chmod, link, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CniCode, CniError, toCniError } from "../cni/cni-error.ts";
import { pluginExists, setPluginRoot } from "../cni/exec-plugin.ts";
import { isRecord } from "../cni/is-record.ts";
import { parseCniArgs, splitCniPath } from "../cni/plugin-env.ts";
import { convertResult } from "../cni/result-convert.ts";
import { resolveClientConfig } from "../k8s/client-config.ts";
import { Informer } from "../k8s/informer.ts";
import { KubeClient } from "../k8s/kube-client.ts";
import type { Pod } from "../k8s/resources.ts";
import { createConflistDelegateRunner } from "../multus/conflist-delegate-runner.ts";
import type { DelegateRunner } from "../multus/executor.ts";
import type { DelegateConfig } from "../cni/delegate-config.ts";
import { hotplug } from "../multus/hotplug.ts";
import { parseMultusConfig, type MultusConfig } from "../multus/multus-config.ts";
import { createMultusHandlers } from "../multus/multus-plugin.ts";
import { reportNodeIdentity } from "../multus/node-identity.ts";
import { isReady } from "../multus/readiness.ts";
import { createLogger, parseLogFormat, parseLogLevel, type Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { lockPrimitive } from "../util/file-lock.ts";
import { CachedPodApiFactory, cachedPod, stripNad } from "./cached-pod-api.ts";
import { createCniServer } from "./cni-server.ts";
import { ConfigGenerator } from "../install/config-generator.ts";
import type { DaemonConfig } from "./daemon-config.ts";
import { DaemonMetrics, PluginLabels } from "./metrics.ts";
import { RequestScheduler } from "./request-scheduler.ts";

export const SOCKET_NAME = "multus.sock";
const INFORMER_SYNC_MS = 20_000;

export interface RunningDaemon {
  socketPath: string;
  /** Resolves when the daemon has shut down. */
  done: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

export async function startDaemon(config: DaemonConfig, stderr: (line: string) => void = (l) => process.stderr.write(l)): Promise<RunningDaemon> {
  const log = createLogger({
    level: parseLogLevel(stringKey(config.overrides, "logLevel"), "verbose"),
    stderr,
    file: stringKey(config.overrides, "logFile"),
    format: parseLogFormat(stringKey(config.overrides, "logFormat")),
    component: "multus-daemon",
  });
  for (const key of config.unknownKeys) log.warn({ field: key, config: config.source }, "unknown key in the daemon config, ignored (docs/configuration.md lists the keys)");
  for (const key of config.ignoredKeys) log.warn({ field: key, config: config.source }, "daemon config key accepted but without effect in Multus-TS (docs/compatibility.md)");
  const configProblem = checkThinKeys(config, log);

  // A broken multus-native.node fails the start, before the socket takes any request.
  const locks = lockPrimitive();

  if (config.chrootDir !== undefined) {
    const st = await stat(config.chrootDir).catch(() => undefined);
    if (st?.isDirectory() !== true) {
      throw new MultusError("MULTUS_ERR_CONFIG", `chrootDir ${config.chrootDir} (daemon config ${config.source}) is not a directory: mount the host's / there (hostPath "/") or remove the key`);
    }
    setPluginRoot(config.chrootDir, findChroot());
    log.info({ chrootDir: config.chrootDir }, "delegate plugins run chrooted in the host's root");
  }

  const shutdownController = new AbortController();
  const node = process.env["MULTUS_NODE_NAME"] ?? hostname();
  if (process.env["MULTUS_NODE_NAME"] === undefined) {
    log.warn({ node }, "MULTUS_NODE_NAME is not set (the downward API's spec.nodeName): this node's pods are selected by the host name, and if that is not the node's name every pod read goes to the API");
  }
  const clientConfig = await resolveClientConfig(stringKey(config.overrides, "kubeconfig"));
  const client = clientConfig === undefined ? undefined : new KubeClient(clientConfig, { logger: log, userAgent: "multus-daemon", signal: shutdownController.signal });
  const pods =
    client === undefined
      ? undefined
      : new Informer<Pod>({ client, path: "/api/v1/pods", fieldSelector: `spec.nodeName=${node}`, transform: cachedPod, log, name: "pods", staleAfterMs: config.informerStaleMs });
  const nads =
    client === undefined
      ? undefined
      : new Informer<unknown>({ client, path: "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions", transform: stripNad, log, name: "network-attachment-definitions", staleAfterMs: config.informerStaleMs });
  const named: { name: string; informer: Informer<Pod> | Informer<unknown> }[] = [];
  if (pods !== undefined) named.push({ name: "pods", informer: pods });
  if (nads !== undefined) named.push({ name: "network-attachment-definitions", informer: nads });
  const informers = named.map((n) => n.informer);

  // Waiting behind the same sandbox's running request may last as long as the thin plugin would
  // wait on its lock: an operation's default budget.
  const scheduler = new RequestScheduler({
    concurrency: config.connectionLimit,
    queueLimit: config.queueLimit,
    queueTimeoutMs: 10_000,
    maxQueuedBytes: 64 * 1024 * 1024,
    sandboxWaitMs: 90_000,
  });
  const pluginLabels = new PluginLabels(pluginExists);
  const metrics = new DaemonMetrics({
    running: () => scheduler.running,
    queued: () => scheduler.queued,
    informers: () => named.map(({ name, informer }) => ({ name, stalenessSeconds: informer.stalenessMs() / 1000, objects: informer.size })),
    cniDir: () => stringKey(config.overrides, "cniDir") ?? "/var/lib/cni/multus",
  });
  const apiFactory =
    client === undefined || pods === undefined || nads === undefined
      ? undefined
      : new CachedPodApiFactory({
          client,
          pods,
          nads,
          node,
          log,
          onLiveRead: (kind, reason) => {
            metrics.liveReads.inc({ kind, reason });
          },
        });

  const handlers = createMultusHandlers({
    stderr,
    createRunner: (c, dirs, l, env) => instrumented(createConflistDelegateRunner(c, dirs, l, env), metrics, (type) => pluginLabels.label(type, dirs)),
    // The daemon's caches when it has API access; else the request's own kubeconfig, as in thin mode.
    createPodApi: async (c, l, signal) => apiFactory?.forRequest(signal) ?? (await import("../multus/kube-pod-api.ts")).createPodApi(c, l, signal),
    observe: {
      phase(command, phase, seconds) {
        metrics.phaseDuration.observe({ command, phase }, seconds);
      },
    },
  });

  let draining = false;
  let synced = informers.length === 0;
  // Set once the socket is claimed: whether it is still this daemon's decides whether another
  // Multus's config may be removed (ConfigGenerator's mayReplaceForeign).
  const socket: { claim: SocketClaim | undefined } = { claim: undefined };
  const generator = new ConfigGenerator({
    config,
    log,
    mayReplaceForeign: async () => socket.claim !== undefined && !draining && (await sameFile(join(config.socketDir, SOCKET_NAME), socket.claim)),
    onWrite: () => {
      metrics.configWrites.inc();
    },
  });
  // Whether `multus.sock` is this daemon's (claimSocket, watchSocket); set once the socket is claimed.
  let socketOwned = false;
  // No daemon serves multus.sock and this one cannot publish it again (its anchor was removed with
  // the directory): /healthz turns 500, so the kubelet restarts it and it claims the socket afresh.
  let socketLost = false;
  const ready = (): boolean => configProblem === undefined && !draining && synced && socketOwned && generator.current !== undefined;
  const server = createCniServer({
    handlers,
    delegate: async (req) => {
      const env = req.env;
      const multusConfig = hotplugConfig(generator, config);
      const dirs = [multusConfig.binDir, ...splitCniPath(env["CNI_PATH"] ?? "")];
      const runner = instrumented(createConflistDelegateRunner(multusConfig, dirs, log, env), metrics, (type) => pluginLabels.label(type, dirs));
      const result = await hotplug(
        {
          command: env["CNI_COMMAND"] ?? "",
          containerId: env["CNI_CONTAINERID"] ?? "",
          netns: env["CNI_NETNS"] ?? "",
          ifName: env["CNI_IFNAME"] ?? "",
          cniArgs: parseCniArgs(env["CNI_ARGS"] ?? ""),
          delegateConfig: req.config,
          attributes: req.interfaceAttributes,
        },
        multusConfig,
        runner,
        log,
      );
      // Upstream's /delegate answers in CNI 1.0.0, whatever the delegate's version.
      return result === undefined ? undefined : convertResult(result, "1.0.0");
    },
    scheduler,
    metrics,
    overrides: config.overrides,
    log,
    ready,
  });
  server.maxConnections = config.connectionLimit + config.queueLimit + 64;

  for (const i of informers) i.start();
  const socketPath = join(config.socketDir, SOCKET_NAME);
  const claim = await claimSocket(server, config.socketDir, socketPath, log);
  socket.claim = claim;
  socketOwned = true;
  const socketWatch = watchSocket(claim, socketPath, log, (state) => {
    socketOwned = state === "owned";
    socketLost = state === "lost";
  });
  log.info({ socket: socketPath, node, connectionLimit: config.connectionLimit, queueLimit: config.queueLimit, locks }, "multus-daemon listening");

  let metricsServer: Server | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = createHttpServer((req, res) => {
      const path = (req.url ?? "").split("?")[0];
      // The kubelet's probes (a hostNetwork pod's httpGet reaches 127.0.0.1 here; the socket it cannot).
      if (path === "/healthz") {
        if (socketLost) res.writeHead(500).end("the socket is gone and cannot be published again: restart\n");
        else res.writeHead(200).end("ok\n");
        return;
      }
      if (path === "/readyz") {
        const ok = ready();
        res.writeHead(ok ? 200 : 500).end(ok ? "ok\n" : "not ready\n");
        return;
      }
      if (path !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": metrics.registry.contentType }).end(text);
        },
        (err: unknown) => {
          res.writeHead(500).end(`${toCniError(err).message}\n`);
        },
      );
    });
    const ms = metricsServer;
    await new Promise<void>((resolve, reject) => {
      ms.once("error", reject);
      ms.listen(config.metricsPort, config.metricsAddress, () => {
        resolve();
      });
    });
    log.info({ port: config.metricsPort, address: config.metricsAddress }, "metrics listening");
  }

  const startup = (async () => {
    if (client !== undefined) void reportNodeIdentity(client, node, log, shutdownController.signal);
    const results = await Promise.all(informers.map((i) => i.waitForSync(INFORMER_SYNC_MS)));
    if (results.some((r) => !r)) log.error({ waitedMs: INFORMER_SYNC_MS }, "informer caches not synced yet; reads go to the API until they are");
    synced = true;
    await waitForIndicator(config.readinessIndicatorFile, log, shutdownController.signal);
    if (shutdownController.signal.aborted) return;
    if (!(await generator.start())) log.error({ dir: config.multusAutoconfigDir }, "no CNI config written yet; /readyz stays 500 until a master CNI config appears");
  })().catch((err: unknown) => {
    log.error({ error: toCniError(err).message }, "start-up failed");
  });

  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      log.info({ reason, running: scheduler.running, queued: scheduler.queued }, "shutting down: /readyz is 500, requests in flight finish, the CNI config stays");
      // First the generator (the file stays as it is): the next daemon may already be starting, and
      // two generators must never take turns on one file.
      await generator.stop();
      // Requests not started yet are refused (error 11: the runtime retries, against the next daemon,
      // or the shim's DEL runs on the host); those in flight finish within their budget.
      scheduler.drain("multus-daemon is shutting down");
      clearInterval(socketWatch);
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await closed;
      // The name goes only if it is still this daemon's socket: another daemon's (a newer one that
      // took it over) must outlive this one (server.close() unlinked only the anchor).
      if (await sameFile(socketPath, claim)) await rm(socketPath, { force: true });
      // Events queued by the last requests go out before the client is cancelled.
      await Promise.race([apiFactory?.flush() ?? Promise.resolve(), sleep(5000)]);
      shutdownController.abort();
      await startup;
      await Promise.all(informers.map((i) => i.stop()));
      client?.close();
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      log.info({}, "multus-daemon stopped");
      resolveDone();
    })();
    return stopping;
  };
  return { socketPath, done, shutdown };
}

/** The Multus config a hot-plug runs with: the generated file's, with the daemon's thin keys over it. */
function hotplugConfig(generator: ConfigGenerator, config: DaemonConfig): MultusConfig {
  const current = generator.current;
  if (current === undefined) throw new CniError(CniCode.TryAgainLater, "multus-daemon has not written its CNI config yet: hot-plug is possible once it is ready");
  const json: unknown = JSON.parse(current.content);
  if (!isRecord(json)) throw new CniError(CniCode.InvalidNetworkConfig, `${current.path} is not a JSON object`);
  const plugin = Array.isArray(json["plugins"]) && isRecord(json["plugins"][0]) ? { ...json["plugins"][0], name: json["name"], cniVersion: json["cniVersion"] } : json;
  return parseMultusConfig({ ...plugin, ...config.overrides }, `${current.path} (for /delegate)`);
}

/** Counts and times every delegate call by its main plugin type (a bounded label: PluginLabels). */
function instrumented(runner: DelegateRunner, metrics: DaemonMetrics, labelOf: (type: string) => string): DelegateRunner {
  const time = async <T>(plugin: string, command: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let result = "error";
    try {
      const out = await fn();
      result = "success";
      return out;
    } finally {
      metrics.pluginExecutions.inc({ plugin, command, result });
      metrics.pluginDuration.observe({ plugin, command }, (performance.now() - started) / 1000);
    }
  };
  const typeOf = (list: DelegateConfig): string => labelOf(list.plugins[0]?.type ?? "");
  return {
    add: (list, req, ctx) => time(typeOf(list), "ADD", () => runner.add(list, req, ctx)),
    del: (list, req, ctx) => time(typeOf(list), "DEL", () => runner.del(list, req, ctx)),
    check: (list, req, ctx) => time(typeOf(list), "CHECK", () => runner.check(list, req, ctx)),
    status: (list, ctx) => time(typeOf(list), "STATUS", () => runner.status(list, ctx)),
    gc: (list, valid, ctx) => time(typeOf(list), "GC", () => runner.gc(list, valid, ctx)),
    cachedAttachments: () => runner.cachedAttachments(),
  };
}

/** The listening socket's file: its identity, and the hidden name the listener was bound at. */
interface SocketClaim {
  readonly dev: number;
  readonly ino: number;
  /** `<socketDir>/.mtsd-<pid>-<random>`: the listener's own name, unlinked by server.close(). */
  readonly anchor: string;
}

/**
 * Listen on `<socketDir>/multus.sock` (dir 0700, socket 0600), taking it over from whoever has it.
 * The listener is bound at a hidden name of its own (the anchor) and then published as multus.sock
 * by link + rename, which replaces any previous file atomically: a stale socket, or the socket of a
 * daemon still running — upstream Go Multus's during an upgrade (same socket path and protocol), or
 * ours being replaced. That daemon keeps serving the connections it has; every new shim reaches this
 * one. Waiting for it instead would never end for upstream's daemon, whose DaemonSet is deleted
 * only once ours is ready. The anchor also lets watchSocket publish the name again.
 */
async function claimSocket(server: Server, dir: string, path: string, log: Logger): Promise<SocketClaim> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const st = await lstat(path).catch(() => undefined);
  if (st !== undefined && !st.isSocket()) throw new Error(`${path} exists and is not a socket: remove it or set another socketDir`);
  if (st !== undefined && (await answers(path))) {
    log.warn({ socket: path }, "another multus-daemon listens on the socket (upstream's during an upgrade, or the one this daemon replaces): taking the socket over; its requests in flight finish there");
  }
  await sweepStaleNames(dir);
  // Unique among daemons sharing the directory, also without hostPID (each may be PID 1).
  const anchor = join(dir, `${ANCHOR_PREFIX}${String(process.pid)}-${randomBytes(3).toString("hex")}`);
  if (Buffer.byteLength(anchor) > 107) throw new Error(`socketDir ${dir} is too long: the daemon's socket names in it (${anchor}) exceed the 107 bytes a unix socket path may have`);
  // The socket is created with the umask's mode: no moment with other users allowed in.
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(anchor, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  await chmod(anchor, 0o600);
  const bound = await stat(anchor);
  await publishSocket(anchor, path);
  return { dev: bound.dev, ino: bound.ino, anchor };
}

/** Short, so that the anchor's path fits a unix socket's 108 bytes wherever multus.sock does. */
const ANCHOR_PREFIX = ".mtsd-";

/**
 * What daemons killed with -9 left in the socket directory: anchors nobody listens on any more, and
 * temporary names of an interrupted publish. Removed at start, so restarts never pile them up.
 */
async function sweepStaleNames(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    if (/^multus\.sock\.[0-9a-f]+\.tmp$/.test(name)) {
      // Another daemon's publish in progress is a moment old; a killed one's stays.
      const st = await lstat(path).catch(() => undefined);
      if (st !== undefined && Date.now() - st.mtimeMs > STALE_TMP_MS) await rm(path, { force: true });
      continue;
    }
    const pid = name.startsWith(ANCHOR_PREFIX) ? /^(\d+)-[0-9a-f]+$/.exec(name.slice(ANCHOR_PREFIX.length))?.[1] : undefined;
    // A daemon starting beside this one has an anchor that may not answer yet: only a dead PID's goes.
    if (pid !== undefined && !pidAlive(Number(pid)) && !(await answers(path))) await rm(path, { force: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** How old a temporary name must be before a starting daemon takes it for a killed one's. */
const STALE_TMP_MS = 60_000;

/** multus.sock as a second name of the anchor, replacing whatever had that name in one step. */
async function publishSocket(anchor: string, path: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await rm(tmp, { force: true });
  await link(anchor, tmp);
  await rename(tmp, path);
}

async function sameFile(path: string, claim: SocketClaim): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  return st !== undefined && st.dev === claim.dev && st.ino === claim.ino;
}

/** How often the socket's name is checked (watchSocket). */
const SOCKET_WATCH_MS = 1000;
/** How often a newer daemon's socket, unchanged, is probed for life (watchSocket). */
const FOREIGN_PROBE_MS = 10_000;

/**
 * Keeps multus.sock this daemon's for as long as no newer daemon wants it. Upstream's daemon unlinks
 * the name when it stops (Go removes a unix listener's path on close) — after this daemon took it
 * over, that name was ours: it is published again from the anchor. A stale file is replaced too. A
 * socket another daemon listens on is a newer daemon's (upstream's starting again for a rollback, or
 * ours replacing this one): this daemon yields — not ready, the name left alone — and takes it back
 * only if that daemon goes. Should nobody serve the name while this daemon's anchor is gone too (the
 * directory was emptied — upstream's daemon does that when it starts), it cannot listen again: it is
 * "lost", and its /healthz asks the kubelet for a restart. `onState` is told each change.
 */
function watchSocket(claim: SocketClaim, path: string, log: Logger, onState: (state: "owned" | "yielded" | "lost") => void): NodeJS.Timeout {
  let state: "owned" | "yielded" | "lost" = "owned";
  let busy = false;
  // The newer daemon's socket this one yielded to, and when it was last seen answering: probed
  // again only every FOREIGN_PROBE_MS while it stays the same file (one connection per check is
  // not sent to a daemon that is not ours every second).
  let foreign: { dev: number; ino: number; at: number } | undefined;
  const set = (value: "owned" | "yielded" | "lost"): void => {
    if (value !== state) onState(value);
    state = value;
  };
  const check = async (): Promise<void> => {
    if (await sameFile(path, claim)) {
      set("owned");
      return;
    }
    const st = await lstat(path).catch(() => undefined);
    if (st !== undefined && foreign !== undefined && st.dev === foreign.dev && st.ino === foreign.ino && Date.now() - foreign.at < FOREIGN_PROBE_MS) return;
    if (st !== undefined && (!st.isSocket() || (await answers(path)))) {
      if (state === "owned") log.warn({ socket: path }, "another daemon took over the socket: this one is not ready until that daemon goes");
      foreign = { dev: st.dev, ino: st.ino, at: Date.now() };
      set("yielded");
      return;
    }
    foreign = undefined;
    if (!(await sameFile(claim.anchor, claim))) {
      if (state !== "lost") log.error({ socket: path, anchor: claim.anchor }, "no daemon serves the socket, and this one's own name for it was removed with its directory: /healthz fails so that the kubelet restarts it");
      set("lost");
      return;
    }
    await publishSocket(claim.anchor, path);
    log.info({ socket: path }, st === undefined ? "the socket's name was removed (a daemon that had it before unlinks it when it stops): published again" : "replaced a stale socket file");
    set("owned");
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check()
      .catch((err: unknown) => {
        log.error({ socket: path, error: toCniError(err).message }, "could not check the socket");
      })
      .finally(() => {
        busy = false;
      });
  }, SOCKET_WATCH_MS);
  timer.unref();
  return timer;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      resolve(false);
    });
  });
}

async function waitForIndicator(file: string | undefined, log: Logger, signal: AbortSignal): Promise<void> {
  for (let waited = 0; !signal.aborted; waited += 1000) {
    if (await isReady(file)) return;
    if (waited % 30_000 === 0) log.error({ file }, "waiting for the readiness indicator file before writing the CNI config (is the cluster network up?)");
    await sleep(1000, undefined, { signal }).catch(() => undefined);
  }
}

/** coreutils' chroot (the image has it at /usr/sbin/chroot), else whatever PATH finds. */
function findChroot(): string {
  for (const p of ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot", "/bin/chroot"]) if (existsSync(p)) return p;
  return "chroot";
}

function stringKey(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * The daemon config's thin keys are every request's too (daemon-config.ts): one the Multus config
 * refuses would fail every ADD with code 7 while the daemon looked healthy. They are parsed now, as a
 * request's config would be (what only the generated config has is a placeholder); when one is bad the
 * error is logged and /readyz stays 500, so the rollout stops on this node instead of breaking its
 * pods. Values accepted with a warning (an unknown logLevel) are said once, here.
 */
function checkThinKeys(config: DaemonConfig, log: Logger): string | undefined {
  try {
    const parsed = parseMultusConfig({ cniVersion: "1.0.0", type: "multus", clusterNetwork: "(the generated config's)", ...config.overrides }, `the daemon config ${config.source}`);
    for (const warning of parsed.warnings) log.warn({ config: config.source, warning }, "a value of the daemon config was accepted with a warning");
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    log.error({ config: config.source, error: message }, "the daemon config is invalid: /readyz stays 500 and the daemon refuses to be ready until it is fixed (every CNI call would fail with this error); fix the key it names and restart the daemon");
    return message;
  }
}
