// `multusctl diagnose pod NAME`: one pod's networks from four sides, each difference a finding with
// its fix named:
//   desired   what the engine's planner makes of the pod's annotations now (planForPod through
//             createNetworkResolver: the ADD's own code, as a dry run; devices are not looked up);
//   recorded  the sandbox's journal on this node (and its result-cache entries: what each delegate got);
//   published the pod's network-status annotation;
//   actual    the interfaces in the recorded netns (`ip -json addr`), host-local's leases of the
//             recorded addresses, the attachments' device-info files.
// Only this node's state is read: a pod of another node has no journal here (the finding says so).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isStaticPod, type Pod } from "../k8s/resources.ts";
import { NETWORK_STATUS_ANNOTATION } from "../k8s/annotations.ts";
import type { Attachment, AttachmentPlan } from "../multus/attachment-plan.ts";
import type { MultusConfig } from "../multus/multus-config.ts";
import { createNetworkResolver, type NadGetter } from "../multus/network-resolver.ts";
import { planForPod } from "../multus/pod-planner.ts";
import { parseNetworkStatus, type NetworkStatus } from "../netattach/network-status.ts";
import type { Logger } from "../util/logger.ts";
import type { Finding } from "./diagnosis.ts";
import { cachedAttachments, hostLocalDirs, interfacesIn, netnsAlive, readJournals, recordedStatus, type ActualInterface, type JournalRecord } from "./node-state.ts";

export interface PodDiagnoseInput {
  config: MultusConfig;
  log: Logger;
  pod: Pod;
  getNad: NadGetter;
  /** Multus v1's Network objects (legacyNetworks): a legacy pod's desired networks come from them. */
  getLegacyNetwork: NadGetter;
}

/** One network of the pod, side by side. */
export interface AttachmentView {
  network: string;
  interface: string;
  desired: boolean;
  /** The journal's state of the attachment; "" when not recorded. */
  recorded: string;
  /** Addresses network-status publishes; undefined: no entry. */
  published?: string[];
  /** Addresses the delegate's result gave (result cache); undefined: none cached. */
  assigned?: string[];
  /** Addresses on the interface in the netns; undefined: no such interface. */
  actual?: string[];
}

export interface PodReport {
  pod: string;
  uid: string;
  node: string;
  sandbox?: { containerId: string; netns: string; netnsAlive: boolean };
  attachments: AttachmentView[];
  findings: Finding[];
}

const RECREATE = (ns: string, name: string): string =>
  `delete the pod (kubectl delete pod -n ${ns} ${name}) so that its sandbox is set up again with every network; Multus does not change a running sandbox`;

export async function diagnosePod(input: PodDiagnoseInput): Promise<PodReport> {
  const { config, pod } = input;
  const ns = pod.metadata.namespace;
  const name = pod.metadata.name;
  const ref = `${ns}/${name}`;
  const findings: Finding[] = [];
  const report: PodReport = { pod: ref, uid: pod.metadata.uid, node: pod.spec.nodeName ?? "", attachments: [], findings };

  // Recorded: this pod's journals on the node. The current one is of this UID with a live netns.
  const mine = (await readJournals(config.cniDir)).filter((j) => j.entry?.plan.pod?.namespace === ns && j.entry.plan.pod.name === name);
  // A static pod's mirror changes UID when it is recreated while the sandbox lives on: its sandbox is
  // judged by its netns alone.
  const isCurrent = (j: JournalRecord): boolean => (j.entry?.plan.pod?.uid === pod.metadata.uid || isStaticPod(pod)) && j.entry !== undefined && netnsAlive(j.entry.plan.netns);
  const current = mine.find(isCurrent);
  for (const j of mine) {
    if (j === current) continue;
    // Another live sandbox of a static pod cannot be told from the current one by UID: never torn down from here.
    if (isStaticPod(pod) && j.entry !== undefined && netnsAlive(j.entry.plan.netns)) continue;
    const plan = j.entry?.plan;
    const uid = plan?.pod?.uid;
    const why = uid !== pod.metadata.uid ? `an earlier pod of that name (UID ${uid ?? "?"})` : current !== undefined ? "an earlier sandbox of the pod" : `its netns ${plan?.netns ?? ""} is gone`;
    findings.push({
      kind: "stale-sandbox",
      subject: j.containerId,
      detail: `a journal of ${ref} that is not its live sandbox: ${why}; no DEL reached Multus for it`,
      fix: "multusctl diagnose pod --repair (or diagnose node --repair) runs the DEL the runtime owes",
      repair: { kind: "del", containerId: j.containerId },
    });
  }

  // Desired: the plan the ADD would make now.
  const req = { containerId: current?.containerId ?? "diagnose", netns: current?.entry?.plan.netns ?? "", ifName: current?.entry?.plan.ifName ?? "eth0", cniArgs: [], runtimeConfig: config.runtimeConfig };
  let desired: AttachmentPlan | undefined;
  try {
    desired = await planForPod(
      { config, req, pod: { namespace: ns, name, uid: pod.metadata.uid }, annotations: pod.metadata.annotations, teardown: true },
      createNetworkResolver(config, input.getNad, input.log, input.getLegacyNetwork),
    );
  } catch (err) {
    findings.push({ kind: "plan-failed", subject: ref, detail: `the pod's networks cannot be planned now: ${(err as Error).message}`, fix: "fix what the message names; a new sandbox of the pod would fail the same way" });
  }

  let published: NetworkStatus[] | undefined;
  const statusText = pod.metadata.annotations[NETWORK_STATUS_ANNOTATION];
  if (statusText !== undefined) {
    try {
      published = parseNetworkStatus(statusText);
    } catch (err) {
      findings.push({ kind: "status-differs", subject: `${ref} ${NETWORK_STATUS_ANNOTATION}`, detail: (err as Error).message, fix: RECREATE(ns, name) });
    }
  }

  const entry = current?.entry;
  if (entry === undefined) {
    findings.push({
      kind: "no-sandbox-record",
      subject: ref,
      detail: `no live sandbox of the pod (UID ${pod.metadata.uid}) is recorded under ${join(config.cniDir, "attachments")}${report.node === "" ? "" : `; the pod is bound to node ${report.node}`}`,
      fix: `run multusctl diagnose on the pod's node${report.node === "" ? "" : ` (${report.node})`}; on that node, this means the sandbox was set up without Multus or its record was lost: ${RECREATE(ns, name)}`,
    });
    report.attachments = (desired?.attachments ?? []).map((a) => ({ network: a.network, interface: a.ifName, desired: true, recorded: "" }));
    return report;
  }

  const plan = entry.plan;
  report.sandbox = { containerId: plan.containerId, netns: plan.netns, netnsAlive: true };
  let actual: ActualInterface[] | undefined;
  try {
    actual = await interfacesIn(plan.netns);
  } catch (err) {
    findings.push({ kind: "interface-missing", subject: plan.netns, detail: `the interfaces in the sandbox cannot be read: ${(err as Error).message}`, fix: "run multusctl as root on the pod's node" });
  }
  const cache = await cachedAttachments(config.cniDir, plan.containerId);

  const key = (network: string, ifName: string): string => `${network}\0${ifName}`;
  const desiredKeys = new Set((desired?.attachments ?? []).map((a) => key(a.network, a.ifName)));
  const recordedKeys = new Set(plan.attachments.map((a) => key(a.network, a.ifName)));

  for (const a of plan.attachments) {
    const state = entry.states[a.index] ?? "planned";
    const where = `${a.network} ${a.ifName}`;
    const view: AttachmentView = { network: a.network, interface: a.ifName, desired: desiredKeys.has(key(a.network, a.ifName)), recorded: state };
    report.attachments.push(view);
    if (desired !== undefined && !view.desired) {
      findings.push({ kind: "network-not-desired", subject: where, detail: "attached (journal) but the pod's annotations no longer select it here (changed after the sandbox was set up)", fix: RECREATE(ns, name) });
    }
    if (state !== "added") {
      findings.push({ kind: "attachment-incomplete", subject: where, detail: `the journal records it as "${state}", not "added": its ADD or a DEL did not complete`, fix: RECREATE(ns, name) });
      continue;
    }
    const cached = cache.find((c) => c.ifName === a.ifName);
    const assigned = cached === undefined ? undefined : recordedStatus(cached, a.network, a.isDefault);
    if (assigned?.ips !== undefined) view.assigned = assigned.ips;
    const status = published?.find((s) => s.interface === a.ifName);
    if (status !== undefined) view.published = status.ips ?? [];
    const iface = actual?.find((i) => i.name === a.ifName);
    if (iface !== undefined) view.actual = iface.ips;

    if (published !== undefined && status === undefined) {
      findings.push({ kind: "status-missing", subject: where, detail: `attached (journal), but ${NETWORK_STATUS_ANNOTATION} has no entry for ${a.ifName}`, fix: RECREATE(ns, name) });
    } else if (status !== undefined && (status.name !== a.network || (assigned?.ips !== undefined && !sameSet(status.ips ?? [], assigned.ips)))) {
      findings.push({
        kind: "status-differs",
        subject: where,
        detail: `network-status says ${status.name} ${(status.ips ?? []).join(",") || "(no IPs)"}, the journal and result cache ${a.network} ${(assigned?.ips ?? []).join(",") || "(no IPs)"}`,
        fix: RECREATE(ns, name),
      });
    }
    if (actual !== undefined && iface === undefined) {
      findings.push({ kind: "interface-missing", subject: where, detail: `recorded as added, but there is no ${a.ifName} in the sandbox's netns ${plan.netns} (removed by hand or by another program)`, fix: RECREATE(ns, name) });
    } else if (iface !== undefined && assigned?.ips !== undefined) {
      const gone = assigned.ips.filter((ip) => !iface.ips.includes(ip));
      if (gone.length > 0) {
        findings.push({ kind: "address-missing", subject: where, detail: `${gone.join(", ")} assigned by the delegate but not on ${a.ifName} (it has ${iface.ips.join(", ") || "none"})`, fix: RECREATE(ns, name) });
      }
    }
    leaseFindings(a, plan.containerId, assigned?.ips ?? [], findings, ns, name);
    if (a.device !== undefined && !existsSync(a.device.infoFile)) {
      findings.push({ kind: "device-info-missing", subject: where, detail: `the attachment's device-info file ${a.device.infoFile} (device ${a.device.id}) is missing`, fix: RECREATE(ns, name) });
    }
  }

  for (const a of desired?.attachments ?? []) {
    if (recordedKeys.has(key(a.network, a.ifName))) continue;
    report.attachments.push({ network: a.network, interface: a.ifName, desired: true, recorded: "" });
    findings.push({ kind: "network-not-attached", subject: `${a.network} ${a.ifName}`, detail: "selected by the pod's annotations now, but not in its sandbox's journal (selected after the sandbox was set up, or a differing interface name)", fix: RECREATE(ns, name) });
  }
  return report;
}

/** host-local: each address the delegate got has a lease naming this container. */
function leaseFindings(a: Attachment, containerId: string, ips: readonly string[], findings: Finding[], ns: string, name: string): void {
  for (const dir of hostLocalDirs(a.delegate)) {
    for (const ip of ips) {
      const path = join(dir, ip);
      let owner: string | undefined;
      try {
        owner = readLease(path);
      } catch {
        owner = undefined;
      }
      if (owner === containerId) continue;
      findings.push({
        kind: "lease-missing",
        subject: `${a.network} ${a.ifName}`,
        detail: owner === undefined ? `${ip} has no host-local lease (${path}): it can be handed to another pod` : `host-local's lease of ${ip} (${path}) names container ${owner}, not this sandbox`,
        fix: RECREATE(ns, name),
      });
    }
  }
}

/** The container ID a host-local lease file names; undefined when there is no such file. */
function readLease(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const [id = ""] = readFileSync(path, "utf8").split(/\r?\n/);
  return id.trim();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
