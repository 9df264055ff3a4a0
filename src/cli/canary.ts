// `multusctl validate --canary`: a network's delegate run for real — ADD then DEL — in a throw-away
// network namespace on this node, through the engine exactly as a pod's call runs (the thin plugin's
// handlers: plan, locks, journal, executor, the conflist runner), with the network as the only
// delegate of a config-file-mode Multus config. Its records go to a throw-away cniDir,
// /run/multusctl-canary-XXXXXX (root's own, 0700: never a directory another user could have made), so
// the node's own journal and result cache are never touched; its IPAM leases are the network's real
// ones (a canary takes an address for a moment, as a pod would) and DEL gives them back. Afterwards
// it checks that nothing is left: the namespace, any file in the throw-away cniDir, a host-local
// lease naming the canary's container ID.
//
// Exported API:
//   interface CanaryReport
//   runCanary(delegate, config): Promise<CanaryReport>
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DelegateConfig } from "../cni/delegate-config.ts";
import { convertResult } from "../cni/result-convert.ts";
import type { CmdArgs } from "../cni/skel.ts";
import type { Result100 } from "../cni/types.ts";
import { selectConfVersion } from "../cni/version.ts";
import { isRecord } from "../cni/is-record.ts";
import { createConflistDelegateRunner } from "../multus/conflist-delegate-runner.ts";
import type { MultusConfig } from "../multus/multus-config.ts";
import { createMultusHandlers } from "../multus/multus-plugin.ts";
import { execFileWithDeadline } from "../util/exec-file.ts";

export interface CanaryReport {
  network: string;
  netns: string;
  containerId: string;
  ifName: string;
  /** What a pod would get: the delegate's result, as CNI 1.0.0. */
  result: Result100;
  /** What the ADD or DEL raised, when one failed. */
  error?: string;
  /** Anything still there after DEL (empty: nothing left). */
  leftovers: string[];
}

const HOST_LOCAL_DEFAULT_DIR = "/var/lib/cni/networks";
/**
 * A canary's network namespace and container ID are `multusctl-canary-<id>`, its records
 * /run/multusctl-canary-XXXXXX: `diagnose node` finds what a killed canary left by these names.
 */
export const CANARY_PREFIX = "multusctl-canary-";
export const CANARY_RECORDS_PARENT = "/run";

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name));
}

/** host-local lease files (in the network's dataDir) that still name the container. */
async function leasesOf(delegate: DelegateConfig, containerId: string): Promise<string[]> {
  const found: string[] = [];
  for (const p of delegate.list.plugins) {
    const ipam = p.ipam;
    if (!isRecord(ipam) || ipam["type"] !== "host-local") continue;
    const dir = join(typeof ipam["dataDir"] === "string" ? ipam["dataDir"] : HOST_LOCAL_DEFAULT_DIR, delegate.name);
    for (const file of await filesUnder(dir)) {
      const text = await readFile(file, "utf8").catch(() => "");
      if (text.includes(containerId)) found.push(`lease ${file}`);
    }
  }
  return found;
}

export async function runCanary(delegate: DelegateConfig, config: MultusConfig): Promise<CanaryReport> {
  const id = randomBytes(6).toString("hex");
  const netnsName = `${CANARY_PREFIX}${id}`;
  const netns = `/var/run/netns/${netnsName}`;
  const containerId = `${CANARY_PREFIX}${id}`;
  const ifName = "net1";
  const cniDir = await mkdtemp(join(CANARY_RECORDS_PARENT, CANARY_PREFIX));
  const version = selectConfVersion(delegate.list.cniVersion, delegate.list.cniVersions);
  const multusConfig = {
    cniVersion: version,
    name: "multusctl-canary",
    type: "multus",
    delegates: [delegate.list],
    cniDir,
    binDir: config.binDir,
    confDir: config.confDir,
    logToStderr: false,
    operationTimeoutSeconds: 60,
  };
  const handlers = createMultusHandlers({ stderr: () => undefined, createRunner: createConflistDelegateRunner, createPodApi: () => Promise.resolve(undefined) });
  const args = (command: "ADD" | "DEL"): CmdArgs => ({
    command,
    containerId,
    netns,
    ifName,
    args: "",
    path: [config.binDir],
    stdinData: Buffer.from(JSON.stringify(multusConfig)),
    config: multusConfig,
    // Delegates inherit the caller's environment (CNI-P-13), as under a runtime.
    env: { ...process.env },
  });
  const report: CanaryReport = { network: delegate.name, netns: netnsName, containerId, ifName, result: { cniVersion: "1.0.0" }, leftovers: [] };
  await execFileWithDeadline("ip", ["netns", "add", netnsName], { timeoutMs: 10_000 });
  try {
    try {
      report.result = convertResult(await handlers.add(args("ADD")), "1.0.0");
    } catch (err) {
      report.error = `ADD: ${(err as Error).message}`;
    }
    try {
      await handlers.del(args("DEL"));
    } catch (err) {
      report.error = `${report.error === undefined ? "" : `${report.error}; `}DEL: ${(err as Error).message}`;
    }
  } finally {
    await execFileWithDeadline("ip", ["netns", "delete", netnsName], { timeoutMs: 10_000 }).catch((err: unknown) => {
      report.leftovers.push(`network namespace ${netnsName} (${(err as Error).message})`);
    });
  }
  if (existsSync(netns)) report.leftovers.push(`network namespace ${netnsName}`);
  // The node-wide lock file is permanent by design (sandbox-locks.ts); anything else is a leftover.
  report.leftovers.push(...(await filesUnder(cniDir)).filter((f) => f !== join(cniDir, "locks", ".node.lock")).map((f) => `record ${f}`));
  report.leftovers.push(...(await leasesOf(delegate, containerId)));
  await rm(cniDir, { recursive: true, force: true });
  return report;
}
