// Two nodes of one cluster (multus-two-nodes.test.ts sets the environment first: both start without
// Multus). Real: kube-apiserver + etcd, kube-scheduler and kube-controller-manager, two kubelets
// (`localhost` and `node-2`), each with its own containerd + runc, network namespace and mount
// namespace (its own /etc/cni/net.d, /opt/cni/bin, /var/lib/cni), joined by a bridge in a "lan"
// namespace standing in for the physical network (each node's `eth0` is a port of it); the
// apiserver reaches both kubelets through an HTTP CONNECT egress proxy, as through konnectivity
// (test/cluster/node/node.sh). Multus-TS is installed with `kubectl apply -k deploy/thick`, and
// Whereabouts v0.9.2 as its users install it: its CRDs, RBAC and DaemonSet from its module, its
// executables built from the Go module proxy into an image built here (node/whereabouts.sh).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { kubectl, run, CommandError, tryKubectl } from "../cluster/harness.ts";
import { applyExample, cniDirs, deletePods, expectNoResidue, installWith, rollout, SYSTEM } from "./install-helpers.ts";
import { buildGoModuleImage, createNamespace, importImage, networkStatus, podExec, startNode, useNode, waitPodReady, type GoModuleImage, type NodeInfo } from "./node-harness.ts";

const first = useNode();
const whereaboutsScript = new URL("../cluster/node/whereabouts.sh", import.meta.url).pathname;

/** Whereabouts' own manifests from its module: the CRDs, and the DaemonSet (with RBAC) with the image's tag pinned. */
async function whereaboutsManifests(w: GoModuleImage): Promise<{ crds: string[]; daemonset: string }> {
  const crds = ["ippools", "overlappingrangeipreservations", "nodeslicepools"].map((c) => join(w.moduleDir, "doc", "crds", `whereabouts.cni.cncf.io_${c}.yaml`));
  const daemonset = await readFile(join(w.moduleDir, "doc", "crds", "daemonset-install.yaml"), "utf8");
  const pinned = daemonset.replace(/ghcr\.io\/k8snetworkplumbingwg\/whereabouts:latest/g, w.imageName);
  assert.notEqual(pinned, daemonset, "whereabouts' daemonset-install.yaml names its image as expected");
  return { crds, daemonset: pinned };
}

/** What `kubectl get ippools` shows: every allocation of every pool, as "ip podref". */
async function allocations(): Promise<string[]> {
  const pools = JSON.parse(await kubectl(["get", "ippools.whereabouts.cni.cncf.io", "--all-namespaces", "-o", "json"])) as {
    items: { spec: { range: string; allocations?: Record<string, { podref?: string }> } }[];
  };
  const out: string[] = [];
  for (const pool of pools.items) {
    const base = pool.spec.range.split("/")[0] ?? "";
    const prefix = base.split(".").slice(0, 3).join(".");
    // Whereabouts keys an allocation by its offset from the range's network address (IPv4 /24 here).
    for (const [offset, a] of Object.entries(pool.spec.allocations ?? {})) out.push(`${prefix}.${offset} ${a.podref ?? "?"}`);
  }
  return out.sort();
}

/** The daemon's own count of the pods its informer holds (multus_informer_objects), read on its node. */
async function informerPods(node: NodeInfo): Promise<number> {
  const result = await run("nsenter", [`--net=/run/netns/${node.netns}`, "--", "curl", "-sf", "--max-time", "5", "http://127.0.0.1:9191/metrics"]);
  if (result.code !== 0) throw new CommandError(`curl the daemon's metrics on ${node.name}`, result);
  const m = /^multus_informer_objects\{informer="pods"\} (\d+)$/m.exec(result.stdout);
  if (m?.[1] === undefined) throw new Error(`no multus_informer_objects{informer="pods"} in the daemon's metrics on ${node.name}`);
  return Number(m[1]);
}

async function podsOn(nodeName: string): Promise<number> {
  const names = await kubectl(["get", "pods", "--all-namespaces", "--field-selector", `spec.nodeName=${nodeName}`, "-o", "name"]);
  return names.split("\n").filter((l) => l !== "").length;
}

/** Applies Whereabouts and removes it when the test ends (its DaemonSet leaves its files on the nodes, as it does for users). */
async function installWhereabouts(t: TestContext, nodes: readonly NodeInfo[]): Promise<void> {
  const w = await buildGoModuleImage(whereaboutsScript);
  for (const n of nodes) await importImage(n, w.image);
  const { crds, daemonset } = await whereaboutsManifests(w);
  t.after(async () => {
    await tryKubectl(["delete", "--ignore-not-found", "--wait=true", "--timeout=60s", "-f", "-"], { input: daemonset });
    await tryKubectl(["delete", "--ignore-not-found", ...crds.flatMap((c) => ["-f", c])]);
  });
  await kubectl(["apply", ...crds.flatMap((c) => ["-f", c])]);
  await kubectl(["apply", "-f", "-"], { input: daemonset });
  await rollout("whereabouts");
}

describe("Multus-TS on two nodes", { concurrency: false }, () => {
  test("TWO NODES thick: kubectl apply -k deploy/thick runs a daemon on each node, each watching only its node's pods; macvlan + Whereabouts (examples/macvlan-whereabouts, unchanged) gives the two replicas unique addresses on two nodes, they ping each other over net1, deleting them frees every lease; uninstall restores both nodes", async (t) => {
    const one = first();
    const two = await startNode(2);
    const nodes = [one, two];
    const before = await Promise.all(nodes.map((n) => cniDirs(n)));

    const installed = await installWith(t, "deploy/thick");
    await rollout("multus");
    const daemons = JSON.parse(await kubectl(["get", "pods", "-l", "app.kubernetes.io/name=multus-ts", "-o", "json"], SYSTEM)) as { items: { spec: { nodeName: string } }[] };
    assert.deepEqual(daemons.items.map((p) => p.spec.nodeName).sort(), ["localhost", "node-2"], "one Multus daemon on each node");

    await installWhereabouts(t, nodes);
    const namespace = await createNamespace(t);
    await applyExample(namespace, "macvlan-whereabouts");
    await kubectl(["rollout", "status", "deployment/macvlan-whereabouts", "--timeout=120s"], { namespace, timeoutMs: 135_000 });

    const pods = JSON.parse(await kubectl(["get", "pods", "-l", "app=macvlan-whereabouts", "-o", "json"], { namespace })) as { items: { metadata: { name: string }; spec: { nodeName: string } }[] };
    assert.deepEqual(pods.items.map((p) => p.spec.nodeName).sort(), ["localhost", "node-2"], "the scheduler put one replica on each node");
    const replicas: { name: string; node: string; ip: string }[] = [];
    for (const p of pods.items) {
      await waitPodReady(namespace, p.metadata.name);
      const net1 = (await networkStatus(namespace, p.metadata.name)).find((e) => e.interface === "net1");
      assert.equal(net1?.name, `${namespace}/macvlan-whereabouts`, `${p.metadata.name}'s network-status has net1 on the NAD`);
      const ip = net1.ips[0] ?? "";
      assert.match(ip, /^192\.168\.100\.([2-9]\d)$/, `${p.metadata.name}'s net1 address is within the NAD's range_start…range_end`);
      replicas.push({ name: p.metadata.name, node: p.spec.nodeName, ip });
    }
    const [a, b] = replicas;
    assert.ok(a !== undefined && b !== undefined);
    assert.notEqual(a.ip, b.ip, "Whereabouts gave the two nodes' pods different addresses");
    assert.deepEqual(await allocations(), [`${a.ip} ${namespace}/${a.name}`, `${b.ip} ${namespace}/${b.name}`].sort(), "the IPPool holds exactly the two pods' leases");

    // Across nodes: a's net1 (a macvlan on its node's eth0) → the lan bridge → b's node's eth0 → b's net1.
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const out = await podExec(namespace, from.name, ["ping", "-c", "3", "-W", "2", "-I", "net1", to.ip]);
      assert.match(out, / 0% packet loss/, `${from.name} on ${from.node} pings ${to.name} on ${to.node} at ${to.ip} over net1`);
    }

    // Each daemon's pod informer holds its own node's pods only (a field selector on spec.nodeName).
    for (const n of nodes) {
      const mine = await podsOn(n.name);
      assert.equal(await informerPods(n), mine, `the daemon on ${n.name} holds the ${String(mine)} pods of its node, not the cluster's`);
    }

    await deletePods(namespace);
    assert.deepEqual(await allocations(), [], "deleting the pods freed every Whereabouts lease");
    for (const n of nodes) await expectNoResidue(n);

    await installed.uninstall();
    // Whereabouts' DaemonSet leaves its executable and its config on the nodes (as it does for its users).
    for (const [i, n] of nodes.entries()) {
      const after = (await cniDirs(n)).split("\n").filter((l) => !/whereabouts/.test(l)).join("\n");
      assert.equal(after, before[i], `${n.name}'s /etc/cni and /opt/cni/bin are as before the install, but for Whereabouts' own files`);
    }
  });
});
