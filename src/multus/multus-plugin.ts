// The multus CNI plugin's commands, shared by the thin executable (and later the daemon): parse the
// config, plan, execute, publish. Kubernetes mode when the config gives API access (kubeconfig or
// in-cluster) and the runtime names a pod (K8S_POD_NAMESPACE/K8S_POD_NAME); config-file mode otherwise.
import { CniCode, CniError, toCniError } from "../cni/cni-error.ts";
import type { CmdArgs, PluginHandlers } from "../cni/skel.ts";
import type { CniResult } from "../cni/types.ts";
import { parseCniArgs } from "../cni/plugin-env.ts";
import { networkStatusFromResult, serializeNetworkStatus } from "../netattach/network-status.ts";
import { createLogger, parseLogLevel, type Logger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import type { AttachmentPlan, PodRef } from "./attachment-plan.ts";
import { AttachmentRecords } from "./attachment-record.ts";
import { planFromDelegates, type CniRequest } from "./config-file-planner.ts";
import { applyDefaultRoute } from "./default-route.ts";
import { Executor, type AttachmentResult, type DelegateRunner } from "./executor.ts";
import type { PodApi } from "./kube-pod-api.ts";
import { parseMultusConfig, type MultusConfig } from "./multus-config.ts";
import { createNetworkResolver } from "./network-resolver.ts";
import { planForPod } from "./pod-planner.ts";
import { isReady, waitForReadiness } from "./readiness.ts";
import { readUpstreamScratchCache, removeUpstreamScratchCache } from "./upstream-scratch-cache.ts";
import { CONFIG_SOURCE_ANNOTATION } from "../k8s/annotations.ts";
import { podUidMatches } from "../k8s/resources.ts";

/** containerd passes every pod annotation in runtimeConfig when Multus declares this capability. */
export const POD_ANNOTATIONS_CAPABILITY = "io.kubernetes.cri.pod-annotations";

export interface MultusPluginDeps {
  /** Where log lines go besides `logFile` (the process's stderr). */
  stderr: (line: string) => void;
  /** Builds the CNI runtime for one call; the paths come from the config and CNI_PATH. */
  createRunner: (config: MultusConfig, cniPath: string[], log: Logger) => DelegateRunner;
  /** The Kubernetes API as the config says (undefined: no API, config-file mode). */
  createPodApi: (config: MultusConfig, log: Logger) => Promise<PodApi | undefined>;
  /** Options for tests: readiness polling. */
  readiness?: { intervalMs: number; timeoutMs: number };
}

interface Call {
  config: MultusConfig;
  log: Logger;
  executor: Executor;
  records: AttachmentRecords;
  req: CniRequest;
  /** The pod the runtime names, when it names one. */
  podId: PodRef | undefined;
}

export function createMultusHandlers(deps: MultusPluginDeps): PluginHandlers {
  const setup = (args: CmdArgs): Call => {
    const config = parseMultusConfig(args.config, "the Multus config on stdin");
    const log = createLogger({
      level: parseLogLevel(config.logLevel, "error"),
      stderr: config.logToStderr ? deps.stderr : undefined,
      file: config.logFile,
      component: "multus",
    });
    // Multus's binDir comes first, then the runtime's CNI_PATH (upstream behaviour).
    const runner = deps.createRunner(config, [config.binDir, ...args.path], log);
    const records = new AttachmentRecords(config.cniDir);
    const cniArgs = parseCniArgs(args.args);
    const req: CniRequest = {
      containerId: args.containerId,
      netns: args.netns,
      ifName: args.ifName,
      cniArgs,
      runtimeConfig: config.runtimeConfig,
    };
    return { config, log, executor: new Executor(runner, records, log), records, req, podId: podIdentity(cniArgs) };
  };

  const kubeFor = async (call: Call): Promise<PodApi | undefined> =>
    call.podId === undefined ? undefined : deps.createPodApi(call.config, call.log);

  const configFilePlan = (call: Call): AttachmentPlan => {
    if (call.config.delegates.length === 0) {
      throw new MultusError(
        "MULTUS_ERR_CONFIG",
        `"clusterNetwork" needs Kubernetes API access and a pod: set "kubeconfig" (or run in-cluster) and let the runtime pass K8S_POD_NAMESPACE/K8S_POD_NAME, or list the networks in "delegates"`,
      );
    }
    return planFromDelegates(call.config, call.req);
  };

  const podPlan = async (call: Call, api: PodApi, pod: PodRef, annotations: Record<string, string>): Promise<AttachmentPlan> =>
    planForPod({ config: call.config, req: call.req, pod, annotations }, createNetworkResolver(call.config, (ns, n) => api.getNad(ns, n), call.log));

  /** The plan a DEL tears down: our record, else upstream's scratch cache, else one rebuilt (best-effort). */
  const planForTeardown = async (call: Call): Promise<{ plan: AttachmentPlan; strict: boolean; upstream: boolean }> => {
    const rec = await call.records.read(call.req.containerId);
    if (rec !== undefined && "plan" in rec) return { plan: rec.plan, strict: true, upstream: false };
    if (rec !== undefined) {
      call.log.warn({ containerId: call.req.containerId, path: call.records.pathOf(call.req.containerId), reason: rec.corrupt }, "attachment record unreadable, rebuilding the plan");
    }
    const upstream = await readUpstreamScratchCache(call.config.cniDir, call.req);
    if (upstream !== undefined) return { plan: upstream, strict: true, upstream: true };
    const api = await kubeFor(call);
    if (api === undefined || call.podId === undefined) return { plan: configFilePlan(call), strict: false, upstream: false };
    try {
      const pod = await api.getPod(call.podId.namespace, call.podId.name);
      // A pod that is gone (or was recreated) still had the cluster network: tear that down at least.
      const current = pod !== undefined && (call.podId.uid === "" || podUidMatches(pod, call.podId.uid));
      const annotations = current ? pod.metadata.annotations : {};
      return { plan: await podPlan(call, api, call.podId, annotations), strict: false, upstream: false };
    } catch (err) {
      // No record means nothing is recorded as attached: an unreachable API or a NAD deleted since
      // must not keep the sandbox from going away.
      call.log.warn({ containerId: call.req.containerId, error: toCniError(err).message }, "no record and the plan cannot be rebuilt; nothing to tear down");
      return { plan: { containerId: call.req.containerId, netns: call.req.netns, ifName: call.req.ifName, attachments: [] }, strict: false, upstream: false };
    } finally {
      api.close();
    }
  };

  return {
    async add(args): Promise<CniResult> {
      const call = setup(args);
      await waitForReadiness(call.config.readinessIndicatorFile, deps.readiness);
      const api = await kubeFor(call);
      if (api === undefined || call.podId === undefined) {
        const results = await call.executor.add(configFilePlan(call));
        return defaultResult(results);
      }
      try {
        return await addForPod(call, api, call.podId);
      } finally {
        api.close();
      }
    },

    async del(args): Promise<void> {
      const call = setup(args);
      if (!(await isReady(call.config.readinessIndicatorFile))) {
        // NPWG-23: DEL must still clean up while the cluster network is not ready.
        call.log.warn({ file: call.config.readinessIndicatorFile }, "readiness indicator file missing; DEL goes on");
      }
      const { plan, strict, upstream } = await planForTeardown(call);
      // CNI DEL: the runtime's current CNI_NETNS wins (it may be empty once the sandbox is gone).
      await call.executor.del({ ...plan, netns: args.netns }, { bestEffort: !strict });
      if (upstream) await removeUpstreamScratchCache(call.config.cniDir, args.containerId);
    },

    async check(args): Promise<void> {
      const call = setup(args);
      const rec = await call.records.read(args.containerId);
      if (rec === undefined || !("plan" in rec)) {
        throw new CniError(CniCode.UnknownContainer, `no attachments are recorded for container ${args.containerId}: CHECK needs a completed ADD`);
      }
      await call.executor.check({ ...rec.plan, netns: args.netns });
    },

    async status(args): Promise<void> {
      const call = setup(args);
      await waitForReadiness(call.config.readinessIndicatorFile, deps.readiness);
      await call.executor.status(await knownDelegates(call));
    },

    async gc(args): Promise<void> {
      const call = setup(args);
      await waitForReadiness(call.config.readinessIndicatorFile, deps.readiness);
      await call.executor.gc(await knownDelegates(call), args.validAttachments);
    },
  };

  async function addForPod(call: Call, api: PodApi, podId: PodRef): Promise<CniResult> {
    const podRef = `${podId.namespace}/${podId.name}`;
    let plan: AttachmentPlan;
    try {
      const { pod, annotations } = await podAnnotations(call, api, podId);
      plan = await podPlan(call, api, pod, annotations);
    } catch (err) {
      await api.event(podId, "Warning", "NetworkAttachmentFailed", toCniError(err).message);
      throw err;
    }
    let results: AttachmentResult[];
    try {
      results = await call.executor.add(plan);
    } catch (err) {
      await api.event(plan.pod ?? podId, "Warning", "NetworkAttachmentFailed", toCniError(err).message);
      throw err;
    }
    try {
      const routed = plan.attachments.find((a) => a.defaultRoute !== undefined);
      if (routed?.defaultRoute !== undefined) {
        const gateways = routed.defaultRoute.length > 0 ? routed.defaultRoute : gatewaysOf(results.find((r) => r.attachment === routed)?.result);
        await applyDefaultRoute({ netns: plan.netns, ifName: routed.ifName, network: routed.network, gateways });
      }
      const status = results.map((r) =>
        networkStatusFromResult({ network: r.attachment.network, ifName: r.attachment.ifName, isDefault: r.attachment.isDefault, result: r.result }),
      );
      await api.patchNetworkStatus(plan.pod ?? podId, serializeNetworkStatus(status));
    } catch (err) {
      // Nothing half-done stays: the interfaces go again, and the runtime retries the sandbox.
      await call.executor.del(plan).catch((e: unknown) => {
        call.log.error({ pod: podRef, error: toCniError(e).message }, "teardown after a failed ADD failed");
      });
      await api.event(plan.pod ?? podId, "Warning", "NetworkAttachmentFailed", toCniError(err).message);
      throw err;
    }
    await Promise.all(
      results.map((r) =>
        api.event(plan.pod ?? podId, "Normal", "AddedInterface", `Add ${r.attachment.ifName} ${addressesOf(r.result)} from ${r.attachment.network}`),
      ),
    );
    return defaultResult(results);
  }

  /**
   * The pod's annotations: from the runtime when it sends them (containerd, no API round trip), else
   * from a GET. A static pod is looked up through its mirror pod, whose UID differs from the runtime's.
   */
  async function podAnnotations(call: Call, api: PodApi, podId: PodRef): Promise<{ pod: PodRef; annotations: Record<string, string> }> {
    const fromRuntime = runtimeAnnotations(call.config.runtimeConfig);
    if (fromRuntime !== undefined && podId.uid !== "" && (fromRuntime[CONFIG_SOURCE_ANNOTATION] ?? "api") === "api") {
      return { pod: podId, annotations: fromRuntime };
    }
    const pod = await api.getPod(podId.namespace, podId.name);
    const podRef = `${podId.namespace}/${podId.name}`;
    if (pod === undefined) {
      throw new MultusError("MULTUS_ERR_POD_NOT_FOUND", `pod ${podRef} does not exist (deleted before its sandbox was set up); nothing was attached`);
    }
    if (podId.uid !== "" && !podUidMatches(pod, podId.uid)) {
      throw new MultusError("MULTUS_ERR_POD_NOT_FOUND", `pod ${podRef} was recreated: the runtime asked for UID ${podId.uid}, the API has ${pod.metadata.uid}; nothing was attached`);
    }
    return { pod: { ...podId, uid: pod.metadata.uid }, annotations: fromRuntime ?? pod.metadata.annotations };
  }

  /** Every delegate STATUS/GC must reach: the configured ones and those recorded for live sandboxes. */
  async function knownDelegates(call: Call): Promise<AttachmentPlan["attachments"][number]["delegate"][]> {
    const byName = new Map(call.config.delegates.map((d) => [d.name, d.list]));
    if (call.config.clusterNetwork !== undefined) {
      const resolver = createNetworkResolver(call.config, undefined, call.log);
      try {
        const cluster = await resolver.fromReference(call.config.clusterNetwork, "(none)");
        byName.set(cluster.statusName, cluster.list);
      } catch (err) {
        call.log.warn({ clusterNetwork: call.config.clusterNetwork, error: toCniError(err).message }, "cluster network not resolvable without the API");
      }
    }
    for (const id of await call.records.list()) {
      const rec = await call.records.read(id);
      if (rec === undefined || !("plan" in rec)) continue;
      for (const a of rec.plan.attachments) if (!byName.has(a.network)) byName.set(a.network, a.delegate);
    }
    return [...byName.values()];
  }
}

function podIdentity(cniArgs: readonly [string, string][]): PodRef | undefined {
  const get = (k: string): string => cniArgs.find(([key]) => key === k)?.[1] ?? "";
  const namespace = get("K8S_POD_NAMESPACE");
  const name = get("K8S_POD_NAME");
  if (namespace === "" || name === "") return undefined;
  return { namespace, name, uid: get("K8S_POD_UID") };
}

function runtimeAnnotations(runtimeConfig: Record<string, unknown>): Record<string, string> | undefined {
  const key = Object.keys(runtimeConfig).find((k) => k.toLowerCase() === POD_ANNOTATIONS_CAPABILITY);
  const value = key === undefined ? undefined : runtimeConfig[key];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function defaultResult(results: readonly AttachmentResult[]): CniResult {
  const main = results.find((r) => r.attachment.isDefault) ?? results[0];
  if (main === undefined) throw new MultusError("MULTUS_ERR_CONFIG", "no delegate produced a result");
  return main.result;
}

function gatewaysOf(result: CniResult | undefined): string[] {
  if (result === undefined || !("ips" in result)) return [];
  return (result.ips ?? []).flatMap((ip) => (ip.gateway === undefined ? [] : [ip.gateway]));
}

function addressesOf(result: CniResult): string {
  const ips = "ips" in result ? (result.ips ?? []).map((ip) => ip.address) : [];
  return `[${ips.join(" ")}]`;
}
