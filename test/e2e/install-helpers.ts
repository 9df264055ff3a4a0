// What the install e2e tests share (install-scenarios.ts, two-nodes-scenarios.ts): a shell on a node,
// the node's CNI directories as a comparable listing, kubectl apply -k, deploy/uninstall's flow, the
// residue attached pods may leave on a node.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { kubectl, repoRoot, run, CommandError } from "../cluster/harness.ts";
import { eventually, nodeLinks, type NodeInfo } from "./node-harness.ts";

export const SYSTEM = { namespace: "kube-system" } as const;

/** A shell command in the node's mount namespace: the node's own /etc/cni, /opt/cni/bin, /var/lib/cni. */
export async function onNode(info: NodeInfo, script: string): Promise<string> {
  const result = await run("nsenter", [`--mount=${join(info.stateDir, "ns", "mnt")}`, "--", "sh", "-c", script]);
  if (result.code !== 0) throw new CommandError(`on the node: ${script}`, result);
  return result.stdout;
}

/** Every entry of the node's /etc/cni and /opt/cni/bin with its type, mode and content hash. */
export async function cniDirs(info: NodeInfo): Promise<string> {
  return onNode(info, "cd / && find etc/cni opt/cni/bin -printf '%y %m %p\\n' | sort && find etc/cni opt/cni/bin -type f -exec sha256sum {} + | sort");
}

export async function applyK(dir: string): Promise<void> {
  await kubectl(["apply", "-k", join(repoRoot, dir)], { timeoutMs: 60_000 });
}

/**
 * `kubectl apply -k deploy/<mode>`, and — should the test fail before its own uninstall — the same
 * clean-up afterwards, so that the next test starts from a node without Multus.
 */
export async function installWith(t: TestContext, dir: string): Promise<{ uninstall: () => Promise<string> }> {
  let uninstalled = false;
  t.after(async () => {
    if (uninstalled) return;
    const namespaces = (await kubectl(["get", "namespaces", "-l", "multus-ts.test/owned=true", "-o", "jsonpath={.items[*].metadata.name}"])).split(" ").filter((n) => n !== "");
    for (const ns of namespaces) await deletePods(ns).catch(() => undefined);
    await uninstall().catch((err: unknown) => {
      t.diagnostic(`clean-up after a failed test: uninstall failed: ${(err as Error).message}`);
    });
  });
  await applyK(dir);
  return {
    uninstall: () => {
      uninstalled = true;
      return uninstall();
    },
  };
}

export async function rollout(name: string): Promise<void> {
  await kubectl(["rollout", "status", `daemonset/${name}`, "--timeout=150s"], { ...SYSTEM, timeoutMs: 165_000 });
}

/** deploy/uninstall's flow (docs/install.md): the Multus DaemonSet away, the uninstall DaemonSet once, then away too. */
export async function uninstall(): Promise<string> {
  // Foreground: returns once the pods are gone (docs/install.md); the uninstaller also waits for the install lock.
  await kubectl(["delete", "daemonset", "multus", "--cascade=foreground", "--wait=true", "--timeout=150s", "--ignore-not-found"], { ...SYSTEM, timeoutMs: 165_000 });
  await applyK("deploy/uninstall");
  await rollout("multus-uninstall");
  const log = await kubectl(["logs", "daemonset/multus-uninstall", "-c", "uninstall"], SYSTEM);
  await kubectl(["delete", "-k", join(repoRoot, "deploy/uninstall"), "--wait=true", "--timeout=150s"], { timeoutMs: 165_000 });
  return log;
}

/** Applies examples/<dir> in `namespace`, unchanged. */
export async function applyExample(namespace: string, dir: string): Promise<void> {
  await kubectl(["apply", "-f", join(repoRoot, "examples", dir)], { namespace });
}

export async function deletePods(namespace: string): Promise<void> {
  // Controllers first, orphaning what they own: the ReplicaSet would recreate deleted pods, and a
  // cascading delete gives the pods their own 30 s grace period after kubectl has returned (the
  // residue check below would then race the kubelet's teardown).
  await kubectl(["delete", "deployments", "--all", "--cascade=orphan", "--wait=true", "--timeout=60s"], { namespace, timeoutMs: 75_000 });
  await kubectl(["delete", "replicasets", "--all", "--cascade=orphan", "--wait=true", "--timeout=60s"], { namespace, timeoutMs: 75_000 });
  // The examples' `sleep 3600` ignores SIGTERM; nothing here needs the grace period.
  await kubectl(["delete", "pods", "--all", "--grace-period=1", "--wait=true", "--timeout=120s"], { namespace, timeoutMs: 135_000 });
}

export async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** What attached pods leave on the node: veths, host-local leases, Multus journals, result caches. */
export async function residue(info: NodeInfo): Promise<string[]> {
  const out: string[] = [];
  for (const link of await nodeLinks(info)) if (link.kind === "veth" && link.name !== "eth0") out.push(`veth ${link.name}`);
  for (const f of [...(await files(join(info.stateDir, "ipam"))), ...(await files(join(info.stateDir, "var-lib-cni", "networks")))]) {
    if (/\/[0-9a-f.:]+$/.test(f)) out.push(`lease ${f}`);
  }
  for (const sub of ["multus/attachments", "multus/results", "results"]) {
    for (const f of await files(join(info.stateDir, "var-lib-cni", sub))) out.push(`record ${f}`);
  }
  return out;
}

export async function expectNoResidue(info: NodeInfo): Promise<void> {
  let left: string[] = [];
  const clean = await eventually(async () => {
    left = await residue(info);
    return left.length === 0;
  }, 30_000);
  assert.ok(clean, `left on the node after every pod was deleted: ${left.join(", ")}`);
}
