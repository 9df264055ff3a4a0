// What a `multusctl validate --canary` that did not finish (kill -9, a crash, a reboot mid-run) left
// on the node, found by the canary's names (canary.ts): its records, /run/multusctl-canary-XXXXXX
// (a journal of what it attached), and its network namespaces, /var/run/netns/multusctl-canary-<id>.
// `diagnose node` lists them; `--repair` runs the canary's DEL through the engine from its journal
// (the same locks, executor and delegates as any DEL; its IPAM leases are released), then removes its
// namespace and records.
//
// Only a records directory that is root's own and private (0700, as mkdtemp makes it, and not a
// symlink) is acted on: a journal restores delegates as the administrator's, so one that anyone else
// could have written must never be run by root; such a directory is reported for a person to look at.
//
// Exported API:
//   findCanaryLeftovers(): Promise<Finding[]>
//   repairCanaryLeftover(action, config, engineLog): Promise<RepairOutcome>
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MultusConfig } from "../multus/multus-config.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";
import { CANARY_PREFIX, CANARY_RECORDS_PARENT } from "./canary.ts";
import type { Finding, RepairAction, RepairOutcome } from "./diagnosis.ts";
import { runEngineDel } from "./engine-del.ts";
import { netnsAlive, readJournals } from "./node-state.ts";

const NETNS_DIR = "/var/run/netns";

async function canaryNames(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).filter((n) => n.startsWith(CANARY_PREFIX)).sort();
}

export async function findCanaryLeftovers(): Promise<Finding[]> {
  const findings: Finding[] = [];
  const covered = new Set<string>();
  for (const name of await canaryNames(CANARY_RECORDS_PARENT)) {
    const path = join(CANARY_RECORDS_PARENT, name);
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined) continue;
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
      findings.push({ kind: "canary-leftover", subject: path, detail: "named like a canary's records, but not a private directory of root's, so not made by multusctl", fix: "look at it and remove it by hand; --repair never runs what it holds" });
      continue;
    }
    const journals = await readJournals(path);
    for (const j of journals) covered.add(j.containerId);
    const what = journals.map((j) => `${j.containerId}: ${(j.entry?.plan.attachments ?? []).map((a, i) => `${a.network} ${a.ifName} (${j.entry?.states[i] ?? "?"})`).join(", ") || "journal unreadable"}`).join("; ");
    findings.push({
      kind: "canary-leftover",
      subject: path,
      detail: `records of a multusctl validate --canary that did not finish${what === "" ? " (no journal: nothing was attached)" : `: ${what}`}`,
      fix: "multusctl diagnose node --repair runs the canary's DEL from its journal, then removes its namespace and records",
      repair: { kind: "canary", records: path },
    });
  }
  for (const name of await canaryNames(NETNS_DIR)) {
    if (covered.has(name)) continue;
    findings.push({
      kind: "canary-leftover",
      subject: join(NETNS_DIR, name),
      detail: "the network namespace of a multusctl validate --canary that did not finish, with no records left",
      fix: "multusctl diagnose node --repair deletes it (ip netns delete)",
      repair: { kind: "canary-netns", name },
    });
  }
  return findings;
}

async function deleteNetns(name: string): Promise<void> {
  if (!(await canaryNames(NETNS_DIR)).includes(name)) return;
  await execFileWithDeadline("ip", ["netns", "delete", name], { timeoutMs: 10_000 });
}

export async function repairCanaryLeftover(action: Extract<RepairAction, { kind: "canary" | "canary-netns" }>, config: MultusConfig, engineLog: (line: string) => void): Promise<RepairOutcome> {
  if (action.kind === "canary-netns") {
    try {
      await deleteNetns(action.name);
      return { action: `delete the canary's network namespace ${action.name}`, ok: true };
    } catch (err) {
      return { action: `delete the canary's network namespace ${action.name}`, ok: false, error: (err as Error).message };
    }
  }
  const what = `tear down the canary recorded in ${action.records}`;
  try {
    for (const j of await readJournals(action.records)) {
      const plan = j.entry?.plan;
      const first = plan?.attachments[0];
      if (plan === undefined || first === undefined) throw new Error(`the journal of ${j.containerId} is unreadable; remove ${action.records} by hand after checking`);
      // The canary's own config: config-file mode with its one network, its records as cniDir.
      const canaryConfig = { cniVersion: first.delegate.list.cniVersion, name: "multusctl-canary", type: "multus", delegates: [first.delegate.list], cniDir: action.records, binDir: config.binDir, logToStderr: false };
      const netns = netnsAlive(plan.netns) ? plan.netns : "";
      const out = await runEngineDel({ config: Buffer.from(JSON.stringify(canaryConfig)), containerId: j.containerId, netns, ifName: plan.ifName, cniArgs: [], cniPath: [config.binDir] }, engineLog);
      if (!out.ok) throw new Error(`its DEL failed: ${out.error ?? ""}`);
      await deleteNetns(j.containerId);
    }
    await rm(action.records, { recursive: true, force: true });
    return { action: what, ok: true };
  } catch (err) {
    return { action: what, ok: false, error: (err as Error).message };
  }
}
