// `multusctl diagnose node`: what Multus left on this node that no live sandbox accounts for — journals
// whose network namespace is gone (or whose pod no longer exists with that UID), result-cache entries
// and host-local leases without a journal, lock files nobody uses or whose holder died, device-info
// files of no recorded sandbox — each with the fix named. `--repair` fixes what it can the way the
// runtime and the engine would: each orphaned sandbox through the engine's own DEL (engine-del.ts:
// the same locks, journal, executor and delegates), unused lock and device-info files through GC's
// own clean-up under the node lock held exclusively, and leases with no record at all only with
// `--force-leases` (nothing on the node says whose they are: a person has to decide).
import { readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { restoreDelegateConfig, type DelegateConfig } from "../cni/delegate-config.ts";
import type { CachedAttachment } from "../cni/result-cache.ts";
import { removeInfoExcept } from "../devices/device-info-files.ts";
import { resolveBaseNetworks } from "../multus/base-networks.ts";
import type { MultusConfig } from "../multus/multus-config.ts";
import { createNetworkResolver } from "../multus/network-resolver.ts";
import { SandboxLocks } from "../multus/sandbox-locks.ts";
import { Budget } from "../util/budget.ts";
import { acquireFileLock } from "../util/file-lock.ts";
import type { Logger } from "../util/logger.ts";
import type { Finding, RepairOutcome } from "./diagnosis.ts";
import { runEngineDel } from "./engine-del.ts";
import { findCanaryLeftovers, repairCanaryLeftover } from "./canary-leftovers.ts";
import {
  cachedAttachments,
  hostLocalDirs,
  leasesIn,
  netnsAlive,
  probeLocks,
  readJournals,
  unownedDeviceInfoFiles,
  type JournalRecord,
} from "./node-state.ts";

/**
 * The pod's UID as the API has it; undefined when the pod does not exist; null when its UID cannot
 * judge a sandbox (a static pod's mirror); throws when the API cannot tell.
 */
export type PodUidLookup = (namespace: string, name: string) => Promise<string | null | undefined>;

export interface NodeDiagnoseInput {
  config: MultusConfig;
  log: Logger;
  /** The API, when multusctl has access: a journal whose pod is gone (or recreated) is an orphan too. */
  podUid?: PodUidLookup;
}

export interface SandboxSummary {
  containerId: string;
  pod: string;
  netns: string;
  netnsAlive: boolean;
  /** "live", or why the sandbox is an orphan. */
  state: string;
  attachments: string[];
}

export interface NodeReport {
  cniDir: string;
  sandboxes: SandboxSummary[];
  findings: Finding[];
}

export async function diagnoseNode(input: NodeDiagnoseInput): Promise<NodeReport> {
  const { config } = input;
  const findings: Finding[] = [];
  const journals = await readJournals(config.cniDir);
  const recorded = new Set(journals.map((j) => j.containerId));
  const sandboxes: SandboxSummary[] = [];
  const orphans = new Set<string>();
  // Every network a record names, for its leases: the journals', the cache's and the base networks.
  const networks = new Map<string, DelegateConfig>();
  const addNetwork = (d: DelegateConfig): void => {
    for (const dir of hostLocalDirs(d)) networks.set(dir, d);
  };

  for (const j of journals) {
    const summary = await summarise(j, input);
    sandboxes.push(summary);
    if (j.entry === undefined) {
      findings.push({
        kind: "corrupt-journal",
        subject: j.containerId,
        detail: `the journal ${j.path} cannot be decoded (${j.corrupt ?? "?"}); the runtime's DEL would tear the sandbox down best-effort from the rebuilt plan`,
        fix: "keep the file for a bug report; --repair runs that DEL if the sandbox is gone",
        repair: { kind: "del", containerId: j.containerId },
      });
      orphans.add(j.containerId);
      continue;
    }
    for (const a of j.entry.plan.attachments) addNetwork(a.delegate);
    if (summary.state === "live") continue;
    orphans.add(j.containerId);
    findings.push({
      kind: "orphan-journal",
      subject: j.containerId,
      detail: `pod ${summary.pod}: ${summary.state}, but its journal still records ${summary.attachments.join(", ")}: no DEL reached Multus (a crashed or restarted runtime)`,
      fix: "multusctl diagnose node --repair runs the DEL the runtime owes (the engine's, under the sandbox's locks)",
      repair: { kind: "del", containerId: j.containerId },
    });
  }

  // Result-cache entries of containers without a journal (a journaled one's go with its DEL).
  const cached = await cachedAttachments(config.cniDir);
  const unrecordedCache = new Map<string, CachedAttachment[]>();
  for (const c of cached) {
    const d = delegateOf(c);
    if (d !== undefined) addNetwork(d);
    if (recorded.has(c.containerId)) continue;
    unrecordedCache.set(c.containerId, [...(unrecordedCache.get(c.containerId) ?? []), c]);
  }
  for (const [containerId, entries] of unrecordedCache) {
    const netns = entries.find((e) => e.netns !== undefined)?.netns ?? "";
    findings.push({
      kind: "orphan-result-cache",
      subject: containerId,
      detail: `${String(entries.length)} result-cache entr${entries.length === 1 ? "y" : "ies"} (${entries.map((e) => `${e.networkName} ${e.ifName}`).join(", ")}) under ${join(config.cniDir, "results")} without a journal${netns !== "" ? `; netns ${netns} ${netnsAlive(netns) ? "still exists" : "is gone"}` : ""}`,
      fix: "--repair runs the engine's DEL for the container (no journal: the plan rebuilt from the pod, best-effort), which releases what the plugins hold and removes the entries",
      repair: { kind: "del", containerId },
    });
  }

  // Leases of the networks on record and of the networks every pod gets.
  const base = await resolveBaseNetworks(config, createNetworkResolver(config, undefined, input.log), "(diagnose)").catch(() => ({ networks: [] }));
  for (const n of base.networks) addNetwork(n.net.delegate);
  for (const dir of [...networks.keys()].sort()) {
    for (const lease of leasesIn(dir)) {
      if (recorded.has(lease.containerId) && !orphans.has(lease.containerId)) continue;
      const what = `lease ${lease.ip} (${dir}) of container ${lease.containerId}${lease.ifName === undefined ? "" : ` ${lease.ifName}`}`;
      if (orphans.has(lease.containerId)) {
        findings.push({ kind: "orphan-lease", subject: lease.path, detail: `${what}: its sandbox's journal is orphaned`, fix: "released by that sandbox's DEL (--repair)" });
      } else if (unrecordedCache.has(lease.containerId)) {
        findings.push({ kind: "orphan-lease", subject: lease.path, detail: `${what}: only the result cache records it`, fix: "released by the container's DEL (--repair)" });
      } else {
        findings.push({
          kind: "unrecorded-lease",
          subject: lease.path,
          detail: `${what}: no journal and no result-cache entry on this node records it, so nothing says whether its sandbox lives`,
          fix: "check that no sandbox has that ID (crictl inspectp ID); then multusctl diagnose node --repair --force-leases removes the file under host-local's lock",
          repair: { kind: "lease", path: lease.path, containerId: lease.containerId },
        });
      }
    }
  }

  // Locks: unused files, and holders that died leaving delegates behind.
  for (const probe of await probeLocks(config.cniDir)) {
    const last = probe.note === undefined ? "" : `; last holder: ${probe.note.command} by pid ${String(probe.note.pid)} since ${probe.note.since} (${probe.holder === "alive" ? "still running" : probe.holder === "gone" ? "dead" : "in another PID namespace"})`;
    if (probe.state === "busy") {
      if (probe.holder === "gone") {
        const delegates = probe.liveDelegates ?? [];
        findings.push({
          kind: "orphaned-delegates",
          subject: probe.path,
          detail: `held, but its holder is dead${delegates.length > 0 ? `: delegates ${delegates.join(", ")} still run with the lock inherited` : ": a process that inherited the lock still holds it"}${last}`,
          fix: `the next operation on the sandbox kills them once the holder's deadline (${probe.note === undefined ? "?" : new Date(probe.note.deadline).toISOString()}) has passed; --repair's DEL does so for an orphaned sandbox`,
        });
      }
      continue;
    }
    if (probe.containerId === "" || recorded.has(probe.containerId)) continue;
    findings.push({
      kind: "stale-lock",
      subject: probe.path,
      detail: `lock file of container ${probe.containerId}, which has no journal: nothing holds it${last}`,
      fix: "harmless; removed by the runtime's CNI GC, or by --repair (GC's clean-up, under the node lock)",
      repair: { kind: "gc-files" },
    });
  }

  for (const file of unownedDeviceInfoFiles(config.deviceInfoDir, recorded)) {
    findings.push({
      kind: "orphan-device-info",
      subject: file,
      detail: "device-info file of no sandbox this node has a journal of",
      fix: "removed by the runtime's CNI GC, or by --repair (GC's clean-up, under the node lock)",
      repair: { kind: "gc-files" },
    });
  }
  findings.push(...(await findCanaryLeftovers()));
  return { cniDir: config.cniDir, sandboxes, findings };
}

async function summarise(j: JournalRecord, input: NodeDiagnoseInput): Promise<SandboxSummary> {
  const plan = j.entry?.plan;
  const netns = plan?.netns ?? "";
  const alive = netnsAlive(netns);
  const pod = plan?.pod;
  const summary: SandboxSummary = {
    containerId: j.containerId,
    pod: pod === undefined ? "(config-file mode)" : `${pod.namespace}/${pod.name}`,
    netns,
    netnsAlive: alive,
    state: alive ? "live" : `netns ${netns === "" ? "(none)" : netns} is gone`,
    attachments: plan === undefined ? [] : plan.attachments.map((a, i) => `${a.network} ${a.ifName} (${j.entry?.states[i] ?? "?"})`),
  };
  if (j.entry === undefined) summary.state = "journal unreadable";
  if (alive && pod !== undefined && input.podUid !== undefined) {
    let uid: string | undefined | null;
    try {
      uid = await input.podUid(pod.namespace, pod.name);
    } catch {
      // Unknown: an API failure never makes a sandbox with a live netns an orphan.
      uid = null;
    }
    if (uid === null) return summary;
    if (uid === undefined) summary.state = `pod ${summary.pod} no longer exists`;
    else if (pod.uid !== "" && uid !== pod.uid) summary.state = `pod ${summary.pod} was recreated (UID ${pod.uid} recorded, ${uid} now)`;
  }
  return summary;
}

/** The network a cache entry was made with, for its host-local directory (undefined: not a usable config). */
function delegateOf(c: CachedAttachment): DelegateConfig | undefined {
  try {
    return restoreDelegateConfig(JSON.parse(c.config.toString("utf8")) as unknown, { kind: "record", where: `the result cache entry of ${c.containerId} ${c.ifName}` });
  } catch {
    return undefined;
  }
}

export interface RepairInput extends NodeDiagnoseInput {
  /** The Multus config as the runtime hands it to the plugin. */
  configBytes: Buffer;
  forceLeases: boolean;
  /** The engine's log lines (stderr), when the config logs there. */
  engineLog?: (line: string) => void;
}

/** Runs the repairs `report` names; the caller diagnoses again to show what is left. */
export async function repairNode(report: NodeReport, input: RepairInput): Promise<RepairOutcome[]> {
  const { config } = input;
  const outcomes: RepairOutcome[] = [];
  const journals = new Map((await readJournals(config.cniDir)).map((j) => [j.containerId, j]));
  const cached = await cachedAttachments(config.cniDir);
  const done = new Set<string>();
  for (const f of report.findings) {
    const r = f.repair;
    if (r?.kind !== "del" || done.has(r.containerId)) continue;
    done.add(r.containerId);
    const j = journals.get(r.containerId);
    const plan = j?.entry?.plan;
    let netns: string;
    let ifName: string;
    let cniArgs: [string, string][];
    if (plan !== undefined) {
      netns = plan.netns;
      ifName = plan.ifName;
      cniArgs = plan.pod === undefined ? [] : podArgs(plan.pod.namespace, plan.pod.name, plan.pod.uid, r.containerId);
    } else {
      // No journal (or an unreadable one): the runtime's CNI_ARGS and netns as its delegates' cache entries kept them.
      const mine = cached.filter((c) => c.containerId === r.containerId);
      netns = mine.find((c) => c.netns !== undefined)?.netns ?? "";
      ifName = mine.find((c) => c.ifName === "eth0")?.ifName ?? mine[0]?.ifName ?? "eth0";
      cniArgs = (mine[0]?.cniArgs ?? []).filter(([k]) => k.startsWith("K8S_POD_") || k === "IgnoreUnknown");
    }
    // CNI: a DEL whose netns is gone gets none, and must still release what it can.
    if (!netnsAlive(netns)) netns = "";
    const out = await runEngineDel({ config: input.configBytes, containerId: r.containerId, netns, ifName, cniArgs, cniPath: [config.binDir] }, input.engineLog);
    outcomes.push({ action: `DEL of container ${r.containerId}${netns === "" ? " (netns gone)" : ` in ${netns}`}`, ok: out.ok, ...(out.error === undefined ? {} : { error: out.error }) });
  }

  if (report.findings.some((f) => f.repair?.kind === "gc-files")) {
    outcomes.push(await gcFiles(input));
  }

  for (const f of report.findings) {
    if (f.repair?.kind === "canary" || f.repair?.kind === "canary-netns") outcomes.push(await repairCanaryLeftover(f.repair, config, input.engineLog ?? (() => undefined)));
  }

  if (input.forceLeases) {
    for (const f of report.findings) {
      if (f.repair?.kind !== "lease") continue;
      outcomes.push(await removeLease(f.repair.path, f.repair.containerId, config));
    }
  }
  return outcomes;
}

/** GC's own clean-up (multus-plugin.ts gc), under the node lock held exclusively: no ADD, DEL or CHECK runs meanwhile. */
async function gcFiles(input: RepairInput): Promise<RepairOutcome> {
  const { config } = input;
  const action = "remove unused lock files and unowned device-info files (under the node lock)";
  const locks = new SandboxLocks(config.cniDir, input.log);
  try {
    const node = await locks.forGc(new Budget("multusctl diagnose --repair", config.operationTimeoutMs, "operationTimeoutSeconds"));
    try {
      // Listed again under the lock: a sandbox ADDed since the diagnosis keeps its files.
      const keep = new Set((await readJournals(config.cniDir)).map((j) => j.containerId));
      removeInfoExcept(config.deviceInfoDir, keep);
      locks.removeUnused(keep);
    } finally {
      node.release();
    }
    return { action, ok: true };
  } catch (err) {
    return { action, ok: false, error: (err as Error).message };
  }
}

const LEASE_LOCK_MS = 10_000;

/** A lease file removed under host-local's own lock (`<dir>/lock`), only if it still names `containerId`. */
async function removeLease(path: string, containerId: string, config: MultusConfig): Promise<RepairOutcome> {
  const action = `remove lease ${path} of container ${containerId} (--force-leases)`;
  // Still no record of the container (an ADD may have started since the diagnosis).
  if ((await readJournals(config.cniDir)).some((j) => j.containerId === containerId)) {
    return { action, ok: false, error: "the container has a journal now: left in place" };
  }
  try {
    const lock = await acquireFileLock(join(path, "..", "lock"), { mode: "exclusive", deadline: Date.now() + LEASE_LOCK_MS });
    try {
      const [owner = ""] = readFileSync(path, "utf8").split(/\r?\n/);
      if (owner.trim() !== containerId) return { action, ok: false, error: `the lease now belongs to ${owner.trim()}: left in place` };
      unlinkSync(path);
    } finally {
      lock.release();
    }
    return { action, ok: true };
  } catch (err) {
    return { action, ok: false, error: (err as Error).message };
  }
}

/** The CNI_ARGS a runtime sends for a pod (the engine reads K8S_POD_*; delegates get IgnoreUnknown). */
function podArgs(namespace: string, name: string, uid: string, containerId: string): [string, string][] {
  return [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", namespace],
    ["K8S_POD_NAME", name],
    ["K8S_POD_INFRA_CONTAINER_ID", containerId],
    ["K8S_POD_UID", uid],
  ];
}
