// The engine service: the multus CNI plugin's commands, shared by the thin executable (in-process, one
// call per process) and the daemon (behind its socket, many calls at once): parse the config, plan,
// lock, execute, publish. Kubernetes mode when the config gives API access (kubeconfig or in-cluster)
// and the runtime names a pod (K8S_POD_NAMESPACE/K8S_POD_NAME); config-file mode otherwise. Every
// command runs within one budget (operationTimeoutSeconds); ADD, DEL and CHECK hold the sandbox's
// locks (sandbox-locks.ts) from the moment they touch its journal until they are done.
// Where the rest lives: the pod and its annotations (pod-source.ts), what a DEL tears down
// (teardown-plan.ts: journal → upstream's record → rebuilt → base networks), what an ADD publishes
// (publication.ts), the networks every pod gets (base-networks.ts). The caller supplies the runtime
// (createRunner), the API (createPodApi: thin mode builds a client per call, the daemon shares its
// informer caches) and, optionally, an observer that is told how long each phase took (daemon metrics).
import { CniCode, CniError, toCniError } from "../cni/cni-error.ts";
import type { CmdArgs, GcArgs, PluginHandlers } from "../cni/skel.ts";
import { DELEGATE_MARKER_ENV, type DelegateConfig } from "../cni/delegate-config.ts";
import type { CniResult } from "../cni/types.ts";
import { parseCniArgs } from "../cni/plugin-env.ts";
import { removeContainerInfo, removeInfoExcept } from "../devices/device-info-files.ts";
import type { PodDevices } from "../devices/allocated-devices.ts";
import { podUidMatches, type Pod } from "../k8s/resources.ts";
import { Budget } from "../util/budget.ts";
import { createLogger, parseLogLevel, type Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import { AttachmentJournal } from "./attachment-journal.ts";
import type { AttachmentPlan, PodRef } from "./attachment-plan.ts";
import { baseNetworksPlan, resolveBaseNetworks } from "./base-networks.ts";
import { planFromDelegates, type CniRequest } from "./config-file-planner.ts";
import { Executor, type AttachmentResult, type DelegateRunner, type OperationContext } from "./executor.ts";
import type { PodApi } from "./kube-pod-api.ts";
import { parseMultusConfig, type MultusConfig } from "./multus-config.ts";
import { createNetworkResolver } from "./network-resolver.ts";
import { planForPod, type NetworkResolver } from "./pod-planner.ts";
import { podAnnotations, podIdentity } from "./pod-source.ts";
import { announceAttachments, announceFailure, publishAttachments } from "./publication.ts";
import { isReady, waitForReadiness, type ReadinessOptions } from "./readiness.ts";
import { SandboxLocks, type NodeLock, type SandboxLock } from "./sandbox-locks.ts";
import { planTeardown, type Teardown } from "./teardown-plan.ts";
import { listUpstreamScratchCaches, readUpstreamScratchCache, removeUpstreamScratchCache } from "./upstream-scratch-cache.ts";

export { POD_ANNOTATIONS_CAPABILITY } from "./pod-source.ts";

/** The phases of a command whose durations an observer is told (daemon metrics). */
export type EnginePhase = "readiness" | "client" | "api" | "plan" | "lock" | "delegates" | "route" | "status";

export interface EngineObserver {
  phase(command: string, phase: EnginePhase, seconds: number, ok: boolean): void;
}

export interface MultusPluginDeps {
  /** Where log lines go besides `logFile` (the process's stderr). */
  stderr: (line: string) => void;
  /** Builds the CNI runtime for one call; the paths come from the config and CNI_PATH. */
  createRunner: (config: MultusConfig, cniPath: string[], log: Logger, env: Readonly<Record<string, string | undefined>>) => DelegateRunner;
  /** The Kubernetes API as the config says (undefined: no API, config-file mode); bounded by `signal`. */
  createPodApi: (config: MultusConfig, log: Logger, signal: AbortSignal) => Promise<PodApi | undefined>;
  /** Options for tests: readiness polling. */
  readiness?: ReadinessOptions;
  observe?: EngineObserver;
  /**
   * The thin executable: each process serves one call, so the time from the process's start to the
   * call's set-up (exec, Node's bootstrap, module evaluation, stdin) is the call's start-up, and the
   * timing line reports it.
   */
  oneCallPerProcess?: boolean;
}

interface Call {
  command: string;
  config: MultusConfig;
  log: Logger;
  budget: Budget;
  runner: DelegateRunner;
  executor: Executor;
  journal: AttachmentJournal;
  locks: SandboxLocks;
  req: CniRequest;
  /** The pod the runtime names, when it names one. */
  podId: PodRef | undefined;
  /** performance.now() at set-up, and the milliseconds each phase took so far (the "operation timing" log line). */
  startedAt: number;
  phases: Partial<Record<EnginePhase, number>>;
}

/** Unknown config keys are warned about once per key and process (the daemon lives long). */
const warnedKeys = new Set<string>();

export function createMultusHandlers(deps: MultusPluginDeps): PluginHandlers {
  const setup = (args: CmdArgs, command: string): Call => {
    refuseNesting(args.env);
    const config = parseMultusConfig(args.config, "the Multus config on stdin");
    const log = createLogger({
      level: parseLogLevel(config.logLevel, "error"),
      stderr: config.logToStderr ? deps.stderr : undefined,
      file: config.logFile,
      rotation: config.logRotation,
      format: config.logFormat,
      component: "multus",
    });
    for (const key of config.unknownKeys) {
      if (warnedKeys.has(key)) continue;
      warnedKeys.add(key);
      log.warn({ field: key, config: args.config.name }, "unknown key in the Multus config, ignored (docs/configuration.md lists the keys)");
    }
    for (const warning of config.warnings) {
      if (warnedKeys.has(warning)) continue;
      warnedKeys.add(warning);
      log.warn({ warning }, "a value of the Multus config was accepted with a warning");
    }
    // Multus's binDir comes first, then the runtime's CNI_PATH (upstream behaviour).
    const runner = deps.createRunner(config, [config.binDir, ...args.path], log, args.env);
    const journal = new AttachmentJournal(config.cniDir);
    const cniArgs = parseCniArgs(args.args);
    const req: CniRequest = { containerId: args.containerId, netns: args.netns, ifName: args.ifName, cniArgs, runtimeConfig: config.runtimeConfig };
    return {
      command,
      config,
      log,
      budget: new Budget(command, config.operationTimeoutMs, "operationTimeoutSeconds"),
      runner,
      executor: new Executor(runner, journal, log, { rollbackTimeoutMs: config.rollbackTimeoutMs }),
      journal,
      locks: new SandboxLocks(config.cniDir, log),
      req,
      podId: podIdentity(cniArgs),
      startedAt: performance.now(),
      phases: {},
    };
  };

  /**
   * One debug line per ADD, DEL and CHECK: how long it took and each phase (plugins' own times are
   * in the "plugin succeeded" lines, each API request's in "kube request"). Thin mode adds the
   * process's start-up before the call; bench/profile.ts reads these lines.
   */
  const reportTiming = (call: Call): void => {
    const fields: Record<string, unknown> = {
      command: call.command,
      containerId: call.req.containerId,
      totalMs: round(performance.now() - call.startedAt),
      phasesMs: Object.fromEntries(Object.entries(call.phases).map(([k, v]) => [k, round(v)])),
    };
    if (deps.oneCallPerProcess === true) fields["startupMs"] = round(call.startedAt);
    call.log.debug(fields, "operation timing");
  };

  /** Runs one phase of a call, noting how long it took (and telling the observer). */
  const timed = async <T>(call: Call, phase: EnginePhase, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let ok = false;
    try {
      const out = await fn();
      ok = true;
      return out;
    } finally {
      const ms = performance.now() - started;
      call.phases[phase] = (call.phases[phase] ?? 0) + ms;
      deps.observe?.phase(call.command, phase, ms / 1000, ok);
    }
  };

  /** The API for the call's pod ("client": in thin mode, loading the client and reading the kubeconfig). */
  const kubeFor = async (call: Call): Promise<PodApi | undefined> =>
    call.podId === undefined ? undefined : timed(call, "client", () => deps.createPodApi(call.config, call.log, call.budget.signal()));

  const configFilePlan = (call: Call): AttachmentPlan => {
    if (call.config.delegates.length === 0) {
      throw new MultusError(
        "MULTUS_ERR_CONFIG",
        `"clusterNetwork" needs Kubernetes API access and a pod: set "kubeconfig" (or run in-cluster) and let the runtime pass K8S_POD_NAMESPACE/K8S_POD_NAME, or list the networks in "delegates"`,
      );
    }
    return planFromDelegates(call.config, call.req);
  };

  const podPlan = async (call: Call, api: PodApi, pod: PodRef, annotations: Record<string, string>, object?: Pod): Promise<AttachmentPlan> =>
    planForPod(
      { config: call.config, req: call.req, pod, annotations, devices: (wanted) => podDevices(call, api, pod, wanted, object) },
      podResolver(call, api),
    );

  /** The plan a DEL without a journal rebuilds: the same networks, no device lookup. */
  const teardownPodPlan = async (call: Call, api: PodApi, pod: PodRef, annotations: Record<string, string>): Promise<AttachmentPlan> =>
    planForPod({ config: call.config, req: call.req, pod, annotations, teardown: true }, podResolver(call, api));

  /** NADs (and, with legacyNetworks, kubernetes.com/v1 Network objects) through the call's API. */
  const podResolver = (call: Call, api: PodApi): NetworkResolver =>
    createNetworkResolver(call.config, (ns, n) => api.getNad(ns, n), call.log, (ns, n) => api.getLegacyNetwork(ns, n));

  /** Loaded only for pods whose networks name a device resource (the gRPC client stays out of other calls). */
  const podDevices = async (call: Call, api: PodApi, pod: PodRef, wanted: string[], object: Pod | undefined): Promise<PodDevices> => {
    const { lookupPodDevices } = await import("../devices/allocated-devices.ts");
    const found = await lookupPodDevices(pod, wanted, {
      podResourcesSocket: call.config.podResourcesSocket,
      checkpointFile: call.config.deviceCheckpointFile,
      pod: async () => object ?? (await api.getPod(pod.namespace, pod.name, pod.uid)),
      dra: { getClaim: (ns, n) => api.getResourceClaim(ns, n), listSlices: (node, driver) => api.listResourceSlices(node, driver) },
      signal: call.budget.signal(),
    });
    call.log.info({ pod: `${pod.namespace}/${pod.name}`, resources: wanted, sources: found.sources }, "devices of the pod");
    return found;
  };

  /** Run `fn` holding the sandbox's locks; the lock file goes with the journal. */
  const locked = async <T>(call: Call, command: string, fn: (lock: SandboxLock) => Promise<T>): Promise<T> => {
    const lock = await timed(call, "lock", () => call.locks.forSandbox(call.req.containerId, command, call.budget));
    try {
      return await fn(lock);
    } finally {
      lock.release({ forget: !call.journal.has(call.req.containerId) });
    }
  };

  return {
    async add(args): Promise<CniResult> {
      const call = setup(args, "ADD");
      try {
        await timed(call, "readiness", () => waitForReadiness(call.config.readinessIndicatorFile, call.budget, deps.readiness));
        const api = await kubeFor(call);
        if (api === undefined || call.podId === undefined) {
          const plan = configFilePlan(call);
          const results = await locked(call, "ADD", (lock) => timed(call, "delegates", () => call.executor.add(plan, { budget: call.budget, lock })));
          return defaultResult(results);
        }
        try {
          return await addForPod(call, api, call.podId);
        } finally {
          api.close();
        }
      } finally {
        reportTiming(call);
      }
    },

    async del(args): Promise<void> {
      const call = setup(args, "DEL");
      try {
        await delFor(call, args);
      } finally {
        reportTiming(call);
      }
    },

    async check(args): Promise<void> {
      const call = setup(args, "CHECK");
      try {
        await checkFor(call, args);
      } finally {
        reportTiming(call);
      }
    },

    async status(args): Promise<void> {
      const call = setup(args, "STATUS");
      await timed(call, "readiness", () => waitForReadiness(call.config.readinessIndicatorFile, call.budget, deps.readiness));
      await call.executor.status(await statusDelegates(call), { budget: call.budget });
    },

    async gc(args: GcArgs): Promise<void> {
      const call = setup(args, "GC");
      await waitForReadiness(call.config.readinessIndicatorFile, call.budget, deps.readiness);
      const nodeLock = await call.locks.forGc(call.budget);
      try {
        await gcUpstreamScratchCaches(call, args, nodeLock);
        await call.executor.gc(await gcDelegates(call), args.validAttachments, { budget: call.budget, lock: nodeLock });
        removeInfoExcept(call.config.deviceInfoDir, new Set([...args.validAttachments.map((v) => v.containerID), ...(await call.journal.list())]));
      } finally {
        // Lock files of sandboxes that have no journal left go too (they would pile up otherwise).
        try {
          call.locks.removeUnused(new Set(await call.journal.list()));
        } catch (err) {
          call.log.warn({ error: toCniError(err).message }, "journals cannot be listed; lock files are left in place");
        }
        nodeLock.release();
      }
    },
  };

  async function delFor(call: Call, args: CmdArgs): Promise<void> {
    if (!(await isReady(call.config.readinessIndicatorFile))) {
      // NPWG-23: DEL must still clean up while the cluster network is not ready.
      call.log.warn({ file: call.config.readinessIndicatorFile }, "readiness indicator file missing; DEL goes on");
    }
    await locked(call, "DEL", async (lock) => {
      const teardown = await timed(call, "plan", () => teardownFor(call));
      const ctx: OperationContext = { budget: call.budget, lock };
      // CNI DEL: the runtime's current CNI_NETNS wins (it may be empty once the sandbox is gone).
      await timed(call, "delegates", async () => {
        if (teardown.source === "rebuilt") {
          await call.executor.delRebuilt({ ...teardown.plan, netns: args.netns }, ctx);
          if (teardown.corruptJournal) await call.journal.remove(args.containerId);
        } else {
          await call.executor.del({ ...teardown.entry, plan: { ...teardown.entry.plan, netns: args.netns } }, ctx);
        }
      });
      // Upstream's record of this sandbox (an in-place upgrade) is no longer needed either way.
      await removeUpstreamScratchCache(call.config.cniDir, args.containerId);
      // DI-03: no device-info file of the sandbox outlives it, journaled or not (a rebuilt plan looks no devices up).
      removeContainerInfo(call.config.deviceInfoDir, args.containerId);
    });
  }

  async function checkFor(call: Call, args: CmdArgs): Promise<void> {
    await locked(call, "CHECK", async (lock) => {
      const read = await call.journal.read(args.containerId);
      if (read === undefined || !("entry" in read)) {
        throw new CniError(CniCode.UnknownContainer, `no attachments are recorded for container ${args.containerId}: CHECK needs a completed ADD`);
      }
      await call.executor.check({ ...read.entry, plan: { ...read.entry.plan, netns: args.netns } }, { budget: call.budget, lock });
    });
  }

  async function addForPod(call: Call, api: PodApi, podId: PodRef): Promise<CniResult> {
    const podRef = `${podId.namespace}/${podId.name}`;
    let plan: AttachmentPlan;
    try {
      const { pod, annotations, object } = await timed(call, "api", () => podAnnotations(call.config.runtimeConfig, api, podId));
      plan = await timed(call, "plan", () => podPlan(call, api, pod, annotations, object));
    } catch (err) {
      await announceFailure(api, podId, toCniError(err).message);
      throw err;
    }
    const target = plan.pod ?? podId;
    return locked(call, "ADD", async (lock) => {
      let results: AttachmentResult[];
      try {
        results = await timed(call, "delegates", () => call.executor.add(plan, { budget: call.budget, lock }));
      } catch (err) {
        await announceFailure(api, target, toCniError(err).message);
        throw err;
      }
      // The AddedInterface events go out with the network-status patch (one round trip for all of
      // them over HTTP/2), as upstream sends its events while it adds; they never fail the ADD.
      const announced = announceAttachments(api, target, results);
      try {
        await publishAttachments(api, target, plan, results, (phase, fn) => timed(call, phase, fn), (message) => {
          call.log.warn({ pod: podRef, problem: message }, "device-info left out of network-status");
        });
      } catch (err) {
        await announced;
        // Nothing half-done stays: the interfaces go again (with the rollback's own budget), and the
        // runtime retries the sandbox.
        const read = await call.journal.read(plan.containerId).catch((e: unknown) => {
          call.log.error({ pod: podRef, error: toCniError(e).message }, "journal unreadable after a failed ADD; the runtime's DEL tears the sandbox down");
          return undefined;
        });
        if (read !== undefined && "entry" in read) {
          const rollback = new Budget("rollback of the ADD", call.config.rollbackTimeoutMs, "rollbackTimeoutSeconds");
          await call.executor.del(read.entry, { budget: rollback, lock }).catch((e: unknown) => {
            call.log.error({ pod: podRef, error: toCniError(e).message }, "teardown after a failed ADD failed; the runtime's DEL retries it");
          });
        }
        await announceFailure(api, target, toCniError(err).message);
        throw err;
      }
      await announced;
      return defaultResult(results);
    });
  }

  /** What a DEL tears down (the caller holds the sandbox lock). */
  async function teardownFor(call: Call): Promise<Teardown> {
    return planTeardown(call.req, {
      journal: call.journal,
      log: call.log,
      readUpstream: () => readUpstreamScratchCache(call.config.cniDir, call.req),
      rebuild: async () => {
        const api = await kubeFor(call);
        const podId = call.podId;
        if (api === undefined || podId === undefined) return configFilePlan(call);
        try {
          const pod = await api.getPod(podId.namespace, podId.name, podId.uid);
          // A pod that is gone (or was recreated) still had the networks every pod gets.
          const current = pod !== undefined && (podId.uid === "" || podUidMatches(pod, podId.uid));
          return await teardownPodPlan(call, api, podId, current ? pod.metadata.annotations : {});
        } finally {
          api.close();
        }
      },
      fallback: () => baseNetworksPlan(call.config, call.req, createNetworkResolver(call.config, undefined, call.log), call.log),
    });
  }

  /**
   * STATUS answers for the networks every pod gets (multus-behavior.md §3): a broken plugin used by one
   * NAD must not make the node NotReady. Journals are not read (containerd polls STATUS).
   */
  async function statusDelegates(call: Call): Promise<DelegateConfig[]> {
    const api = await apiForReferences(call);
    try {
      const resolver = createNetworkResolver(call.config, api === undefined ? undefined : (ns, n) => api.getNad(ns, n), call.log);
      const { networks, failures } = await resolveBaseNetworks(call.config, resolver, "(status)");
      const first = failures[0];
      if (first !== undefined) {
        throw new CniError(
          CniCode.PluginNotAvailable,
          `the ${first.role === "cluster" ? "cluster network" : "default network"} "${first.ref}" cannot be resolved, so no pod can be set up: ${first.error.message}`,
        );
      }
      return networks.map((n) => n.net.delegate);
    } finally {
      api?.close();
    }
  }

  /** GC reaches the base networks and every network a journal names (deduplicated by name and config). */
  async function gcDelegates(call: Call): Promise<DelegateConfig[]> {
    const byKey = new Map<string, DelegateConfig>();
    const add = (list: DelegateConfig): void => {
      byKey.set(`${list.name}\0${list.runnable.bytes.toString("utf8")}`, list);
    };
    const { networks, failures } = await resolveBaseNetworks(call.config, createNetworkResolver(call.config, undefined, call.log), "(gc)");
    for (const f of failures) call.log.warn({ network: f.ref, error: f.error.message }, "GC cannot resolve this network from files; it is reached only through the journals that name it");
    for (const n of networks) add(n.net.delegate);
    for (const id of await call.journal.list()) {
      const read = await call.journal.read(id).catch((err: unknown) => {
        call.log.warn({ containerId: id, error: toCniError(err).message }, "journal unreadable; GC does not reach the networks only it names");
        return undefined;
      });
      if (read === undefined || !("entry" in read)) continue;
      for (const a of read.entry.plan.attachments) add(a.delegate);
    }
    return [...byKey.values()];
  }

  /** Sandboxes ADDed by upstream Multus before an in-place upgrade that the runtime no longer lists. */
  async function gcUpstreamScratchCaches(call: Call, args: GcArgs, lock: NodeLock): Promise<void> {
    const keep = new Set(args.validAttachments.map((v) => v.containerID));
    const stale = (await listUpstreamScratchCaches(call.config.cniDir)).filter((id) => !keep.has(id));
    if (stale.length === 0) return;
    const cached = await call.runner.cachedAttachments();
    for (const id of stale) {
      // Upstream's record has no netns; the libcni cache entries of its delegates do.
      const netns = cached.find((c) => c.containerId === id && c.netns !== undefined && c.netns !== "")?.netns ?? "";
      const req: CniRequest = { ...call.req, containerId: id, netns, ifName: "eth0" };
      const read = await readUpstreamScratchCache(call.config.cniDir, req);
      if (read === undefined) continue;
      if ("corrupt" in read) {
        call.log.warn({ containerId: id, reason: read.corrupt }, "upstream Multus record unreadable; GC leaves it");
        continue;
      }
      await call.executor.del({ plan: read.plan, states: read.plan.attachments.map(() => "added") }, { budget: call.budget, lock });
      await removeUpstreamScratchCache(call.config.cniDir, id);
      call.log.info({ containerId: id }, "stale attachments of upstream Multus collected");
    }
  }

  /** The API, when the config has one, for resolving clusterNetwork/defaultNetworks NADs. */
  async function apiForReferences(call: Call): Promise<PodApi | undefined> {
    try {
      return await deps.createPodApi(call.config, call.log, call.budget.signal());
    } catch (err) {
      call.log.warn({ error: toCniError(err).message }, "no Kubernetes API access; clusterNetwork/defaultNetworks are resolved from files only");
      return undefined;
    }
  }
}

/**
 * A multus started by one of Multus's own delegates (under any name: a symlink, a copy) refuses to
 * work before it reads its config: that config is the delegate's, and would choose binDir, cniDir,
 * kubeconfig and logFile for the node (docs/security.md). The gate refuses such configs by type;
 * this catches the aliases. The daemon checks the environment of each request the same way.
 */
function refuseNesting(env: Readonly<Record<string, string | undefined>>): void {
  const parent = env[DELEGATE_MARKER_ENV];
  if (parent === undefined || parent === "") return;
  throw new MultusError(
    "MULTUS_ERR_DELEGATE_REFUSED",
    `multus was started as a delegate of Multus (${DELEGATE_MARKER_ENV}=${parent} in its environment): Multus never runs itself as a network's plugin, since that network's config would choose Multus's binDir, cniDir, kubeconfig and log file; use the plugin itself in the network's config`,
  );
}

/** Milliseconds to a tenth, for log lines. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function defaultResult(results: readonly AttachmentResult[]): CniResult {
  const main = results.find((r) => r.attachment.isDefault) ?? results[0];
  if (main === undefined) throw new MultusError("MULTUS_ERR_CONFIG", "no delegate produced a result");
  return main.result;
}

