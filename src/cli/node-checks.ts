// The checks of a network that depend on this node and cluster (network-checks.ts made the
// node-independent ones): each plugin present in binDir and answering VERSION with the config's
// cniVersion among those it supports; the master/parent interface present; IPAM ranges overlapping
// across networks; capabilities pods request that no plugin declares (the planner's own check); a
// resourceName the node's kubelet offers.
//
// Exported API:
//   interface CheckedNetwork { inspection: NetworkInspection }  and the check functions below, each
//   returning findings (codes MULTUS_CHECK_*, listed in docs/multusctl.md).
import { checkCapabilities } from "../multus/pod-planner.ts";
import type { Attachment } from "../multus/attachment-plan.ts";
import type { Finding, NetworkInspection } from "../multus/network-checks.ts";
import { findPlugin, probeVersion } from "../cni/exec-plugin.ts";
import { selectConfVersion } from "../cni/version.ts";
import { isRecord } from "../cni/is-record.ts";
import { parseSelectionAnnotation } from "../netattach/selection-annotation.ts";
import { NETWORKS_ANNOTATION } from "../k8s/annotations.ts";
import { MultusError } from "../util/multus-error.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";
import { ipamRanges, overlaps } from "./ip-ranges.ts";

function who(n: NetworkInspection): string {
  return `${n.kind} ${n.namespace ?? ""}/${n.name ?? ""}`;
}

/** The body's plugins with their field paths (a conf is one plugin at the body's own path). */
function pluginsOf(n: NetworkInspection): { p: Record<string, unknown>; at: string }[] {
  const body = n.body;
  if (body === undefined) return [];
  if (!Array.isArray(body["plugins"])) return [{ p: body, at: n.bodyField }];
  return body["plugins"].flatMap((p: unknown, i) => (isRecord(p) ? [{ p, at: `${n.bodyField}.plugins[${String(i)}]` }] : []));
}

/** Every plugin and IPAM type is an executable in binDir that supports the config's cniVersion. */
export async function checkPlugins(n: NetworkInspection, binDir: string): Promise<Finding[]> {
  if (n.delegate === undefined) return [];
  const version = selectConfVersion(n.delegate.list.cniVersion, n.delegate.list.cniVersions);
  const wanted: { type: string; field: string }[] = [];
  for (const { p, at } of pluginsOf(n)) {
    if (typeof p["type"] === "string") wanted.push({ type: p["type"], field: `${at}.type` });
    if (isRecord(p["ipam"]) && typeof p["ipam"]["type"] === "string") wanted.push({ type: p["ipam"]["type"], field: `${at}.ipam.type` });
  }
  const findings: Finding[] = [];
  for (const { type, field } of wanted) {
    let path: string;
    try {
      path = await findPlugin(type, [binDir]);
    } catch {
      findings.push({ severity: "fatal", field, code: "MULTUS_CHECK_PLUGIN_MISSING", message: `${who(n)}: ${field}: plugin "${type}" is not in ${binDir} on this node; install it there (or fix the type)` });
      continue;
    }
    try {
      const info = await probeVersion(path, { timeoutMs: 5_000 });
      if (!info.supportedVersions.includes(version)) {
        findings.push({ severity: "fatal", field, code: "MULTUS_CHECK_CNI_VERSION", message: `${who(n)}: ${field}: ${path} supports CNI ${info.supportedVersions.join(", ")}, not the config's cniVersion ${version}; change cniVersion or upgrade the plugin` });
      }
    } catch (err) {
      findings.push({ severity: "fatal", field, code: "MULTUS_CHECK_CNI_VERSION", message: `${who(n)}: ${field}: ${path} did not answer VERSION: ${(err as Error).message}` });
    }
  }
  return findings;
}

/** The interface names of this node's network namespace (names and alternative names). */
export async function nodeInterfaces(): Promise<Set<string>> {
  const { stdout } = await execFileWithDeadline("ip", ["-json", "link", "show"], { timeoutMs: 5_000 });
  const links: unknown = JSON.parse(stdout);
  const names = new Set<string>();
  if (!Array.isArray(links)) return names;
  for (const l of links) {
    if (!isRecord(l)) continue;
    if (typeof l["ifname"] === "string") names.add(l["ifname"]);
    if (Array.isArray(l["altnames"])) for (const a of l["altnames"]) if (typeof a === "string") names.add(a);
  }
  return names;
}

/** Keys naming a host interface a plugin attaches to (`linkInContainer`: the pod's own, not checked). */
const PARENT_KEYS: Readonly<Record<string, string>> = { macvlan: "master", ipvlan: "master", vlan: "master", "host-device": "device", bridge: "" };

export function checkParents(n: NetworkInspection, interfaces: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const { p, at } of pluginsOf(n)) {
    const key = typeof p["type"] === "string" ? PARENT_KEYS[p["type"]] : undefined;
    if (key === undefined || key === "" || p["linkInContainer"] === true) continue;
    const name = p[key];
    if (typeof name !== "string" || name === "" || interfaces.has(name)) continue;
    findings.push({ severity: "fatal", field: `${at}.${key}`, code: "MULTUS_CHECK_INTERFACE_MISSING", message: `${who(n)}: ${at}.${key}: interface "${name}" does not exist on this node; fix ${key} or create the interface` });
  }
  return findings;
}

/** Each range overlapping a range of another network: a warning on both. */
export function checkOverlaps(networks: readonly NetworkInspection[]): Map<NetworkInspection, Finding[]> {
  const out = new Map<NetworkInspection, Finding[]>();
  const all = networks.flatMap((n) => (n.body === undefined ? [] : ipamRanges(n.body, n.bodyField).map((r) => ({ n, r }))));
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i];
      const b = all[j];
      if (a === undefined || b === undefined || a.n === b.n || !overlaps(a.r, b.r)) continue;
      for (const [x, y] of [[a, b], [b, a]] as const) {
        const list = out.get(x.n) ?? [];
        list.push({ severity: "warning", field: x.r.field, code: "MULTUS_CHECK_IPAM_OVERLAP", message: `${who(x.n)}: ${x.r.field}: ${x.r.text} overlaps ${y.r.text} of ${who(y.n)}; pods of both may get the same address` });
        out.set(x.n, list);
      }
    }
  }
  return out;
}

/** A pod, as the capability check needs it: its name and annotations. */
export interface PodAnnotations {
  namespace: string;
  name: string;
  annotations: Readonly<Record<string, string>>;
}

/**
 * The capability requests of pods selecting this network, checked by the planner's own rule: a
 * request no plugin declares fails the pod (fatal), except ips/mac, which then travel as CNI_ARGS and
 * must show in the result (a warning).
 */
export function checkPodCapabilities(n: NetworkInspection, pods: readonly PodAnnotations[]): Finding[] {
  if (n.delegate === undefined || n.namespace === undefined || n.name === undefined || n.kind !== "NetworkAttachmentDefinition") return [];
  const findings: Finding[] = [];
  for (const pod of pods) {
    const podRef = `${pod.namespace}/${pod.name}`;
    let selections;
    try {
      selections = parseSelectionAnnotation(pod.annotations[NETWORKS_ANNOTATION] ?? "", pod.namespace, podRef);
    } catch {
      continue; // the pod's own problem, for `plan` to show
    }
    for (const sel of selections) {
      if (sel.namespace !== n.namespace || sel.name !== n.name) continue;
      const a: Attachment = { index: 1, network: `${n.namespace}/${n.name}`, ifName: sel.interface ?? "net1", delegate: n.delegate, isDefault: false, cniArgs: [], capabilityArgs: {} };
      try {
        checkCapabilities(a, sel, podRef);
      } catch (err) {
        if (!(err instanceof MultusError)) throw err;
        findings.push({ severity: "fatal", field: `${n.bodyField}.capabilities`, code: err.errorCode, message: err.message });
        continue;
      }
      if (a.expect !== undefined) {
        const what = Object.keys(a.expect).join(" and ");
        findings.push({ severity: "warning", field: `${n.bodyField}.capabilities`, code: "MULTUS_CHECK_CAPABILITY_ARGS", message: `${who(n)}: pod ${podRef} requests ${what} but no plugin declares the capability: it reaches the plugins only as CNI_ARGS, and the ADD fails unless the result shows it` });
      }
    }
  }
  return findings;
}

/** The resourceName among the node's allocatable resources (what its device plugins and kubelet offer). */
export function checkResource(n: NetworkInspection, allocatable: Readonly<Record<string, string>> | undefined, node: string): Finding[] {
  if (n.resourceName === undefined) return [];
  const field = "metadata.annotations[k8s.v1.cni.cncf.io/resourceName]";
  if (allocatable === undefined) {
    return [{ severity: "warning", field, code: "MULTUS_CHECK_RESOURCE_UNKNOWN", message: `${who(n)}: node ${node} could not be read, so resource "${n.resourceName}" was not checked (give --node)` }];
  }
  const count = allocatable[n.resourceName];
  if (count === undefined || count === "0") {
    return [{ severity: "warning", field, code: "MULTUS_CHECK_RESOURCE_UNKNOWN", message: `${who(n)}: node ${node}'s kubelet offers no "${n.resourceName}" (not in status.allocatable); pods asking for it stay Pending there: check the device plugin` }];
  }
  return [];
}
