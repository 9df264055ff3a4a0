// multusctl plan: the AttachmentPlan Multus would execute for a pod, made by the engine's own planner
// (planForPod with createNetworkResolver over the API: the thin plugin's path) — networks, interface
// names, the delegate configs as they would run, devices — without touching the node: nothing is
// executed, locked or recorded. Devices are looked up only where the kubelet's PodResources answers;
// otherwise the plan says "devices not resolved: …" and shows the networks without them.
//
//   plan POD [-n NS]        a pod from the API
//   plan -f pod.yaml        a pod manifest (not yet created): its annotations, its namespace or -n
import { readFile } from "node:fs/promises";
import { isRecord } from "../cni/is-record.ts";
import { selectConfVersion } from "../cni/version.ts";
import { getPod, nadPath } from "../k8s/resources.ts";
import { legacyNetworkPath } from "../k8s/resources.ts";
import type { AttachmentPlan, PodRef } from "../multus/attachment-plan.ts";
import { unlessNotFound, unlessObjectNotFound } from "../multus/kube-pod-api.ts";
import { createNetworkResolver } from "../multus/network-resolver.ts";
import { planForPod } from "../multus/pod-planner.ts";
import { createLogger } from "../util/logger.ts";
import { MultusError } from "../util/multus-error.ts";
import type { CliContext } from "./cli-context.ts";
import { EXIT_OK, UsageError } from "./cli-error.ts";
import { parseVerbArgs, type VerbSpec } from "./verb.ts";

export const spec: VerbSpec = {
  name: "plan",
  summary: "Show the attachment plan Multus would execute for a pod, without touching the node",
  usage: ["plan POD [-n NS]", "plan -f pod.yaml [-n NS]"],
  options: {
    filename: { type: "string", short: "f", description: "a pod manifest (YAML or JSON; - for stdin)" },
  },
  completes: "pod",
};

/** A placeholder sandbox: the plan names it, nothing uses it. */
const PLAN_CONTAINER_ID = "multusctl-plan";

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(spec, args, ctx);
  if (parsed === undefined) return EXIT_OK;
  const [name, ...extra] = parsed.positionals;
  const file = parsed.strings["filename"];
  if (extra.length > 0) throw new UsageError(`plan: unexpected argument "${extra[0] ?? ""}"`);
  if ((name === undefined) === (file === undefined)) throw new UsageError("plan: give a pod name or -f FILE (one of the two)");
  const { client, namespace } = await ctx.kube();
  const { config } = await ctx.multusConfig();

  let pod: PodRef;
  let annotations: Record<string, string>;
  if (file !== undefined) {
    ({ pod, annotations } = await readPodManifest(file, namespace));
  } else {
    const object = await getPod(client, namespace, name ?? "");
    pod = { namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid };
    annotations = object.metadata.annotations;
  }

  const log = createLogger({ level: "error", stderr: undefined, component: "multusctl" });
  const resolver = createNetworkResolver(
    config,
    (ns, n) => unlessNotFound(client.get(nadPath(ns, n))),
    log,
    (ns, n) => unlessObjectNotFound(client.get(legacyNetworkPath(ns, n))),
  );
  const req = { containerId: PLAN_CONTAINER_ID, netns: "(not created: a plan)", ifName: "eth0", cniArgs: [] as [string, string][], runtimeConfig: config.runtimeConfig };
  let devicesNote: string | undefined;
  let plan: AttachmentPlan;
  try {
    plan = await planForPod({ config, req, pod, annotations, devices: (wanted) => podDevices(pod, wanted, config.podResourcesSocket, config.deviceCheckpointFile) }, resolver);
  } catch (err) {
    if (!(err instanceof MultusError) || err.errorCode !== "MULTUS_ERR_DEVICE") throw err;
    // The networks are still worth seeing: plan again without looking devices up (as for a DEL).
    devicesNote = `devices not resolved: ${err.message}`;
    plan = await planForPod({ config, req, pod, annotations, teardown: true }, resolver);
  }
  if (devicesNote !== undefined) ctx.warn(devicesNote);

  const attachments = plan.attachments.map((a) => ({
    index: a.index,
    network: a.network,
    interface: a.ifName,
    default: a.isDefault,
    types: a.delegate.list.plugins.map((p) => p.type),
    cniVersion: selectConfVersion(a.delegate.list.cniVersion, a.delegate.list.cniVersions),
    delegate: a.delegate.list,
    cniArgs: Object.fromEntries(a.cniArgs),
    capabilityArgs: a.capabilityArgs,
    ...(a.defaultRoute === undefined ? {} : { defaultRoute: a.defaultRoute }),
    ...(a.expect === undefined ? {} : { expect: a.expect }),
    ...(a.device === undefined ? {} : { device: a.device }),
  }));
  await ctx.print({ pod: `${pod.namespace}/${pod.name}`, multusConfig: (await ctx.multusConfig()).source, attachments, ...(devicesNote === undefined ? {} : { devices: devicesNote }) }, () => ({
    headers: ["#", "network", "interface", "plugins", "device", "notes"],
    rows: attachments.map((a) => [
      String(a.index),
      a.network,
      a.interface,
      a.types.join(","),
      a.device?.id ?? "",
      [a.default ? "cluster network" : "", a.defaultRoute === undefined ? "" : `default route via ${a.defaultRoute.join(",") || "its gateway"}`, Object.keys(a.capabilityArgs).length === 0 ? "" : `runtimeConfig: ${Object.keys(a.capabilityArgs).join(",")}`]
        .filter((s) => s !== "")
        .join("; "),
    ]),
  }));
  return EXIT_OK;
}

async function podDevices(pod: PodRef, wanted: string[], socket: string, checkpointFile: string) {
  const { lookupPodDevices } = await import("../devices/allocated-devices.ts");
  return lookupPodDevices(pod, wanted, { podResourcesSocket: socket, checkpointFile, pod: () => Promise.resolve(undefined), dra: undefined, signal: AbortSignal.timeout(10_000) });
}

async function readPodManifest(file: string, namespace: string): Promise<{ pod: PodRef; annotations: Record<string, string> }> {
  let text: string;
  try {
    text = await readFile(file === "-" ? "/dev/stdin" : file, { encoding: "utf8", signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new UsageError(`plan: cannot read ${file}: ${(err as Error).message}`);
  }
  const yaml = await import("yaml");
  let doc: unknown;
  try {
    doc = yaml.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`plan: ${file} is not YAML or JSON: ${(err as Error).message.split("\n")[0] ?? ""}`);
  }
  const md = isRecord(doc) ? doc["metadata"] : undefined;
  if (!isRecord(doc) || doc["kind"] !== "Pod" || !isRecord(md) || typeof md["name"] !== "string") throw new UsageError(`plan: ${file} is not a Pod manifest (kind: Pod with metadata.name)`);
  const raw = isRecord(md["annotations"]) ? md["annotations"] : {};
  const annotations = Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === "string"));
  const ns = typeof md["namespace"] === "string" && md["namespace"] !== "" ? md["namespace"] : namespace;
  return { pod: { namespace: ns, name: md["name"], uid: "" }, annotations };
}
