// The in-place upgrade from upstream Go Multus, and the rollback, on a real node that starts without
// Multus (multus-upgrade.test.ts sets the environment first). Real: kube-apiserver + etcd, kubelet,
// containerd + runc, kube-scheduler and kube-controller-manager; upstream Multus v4.3.0's thick
// DaemonSet from its own deployments/multus-daemonset-thick.yml (only the image pinned), its
// executables built from the Go module proxy into an image built here (node/upstream-multus.sh);
// Multus-TS from `kubectl apply -k deploy/thick` and deploy/uninstall; the reference plugins. The
// steps are docs/install.md's, "Upgrading in place from upstream Go Multus" and "Rolling back".
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test, type TestContext } from "node:test";
import { kubectl, tryKubectl } from "../cluster/harness.ts";
import { applyExample, cniDirs, deletePods, expectNoResidue, installWith, onNode, rollout, SYSTEM } from "./install-helpers.ts";
import { buildGoModuleImage, createNamespace, createPod, eventMessages, eventually, importImage, podInterfaces, useNode, waitPodReady, type NodeInfo } from "./node-harness.ts";

const node = useNode();
const upstreamScript = new URL("../cluster/node/upstream-multus.sh", import.meta.url).pathname;

/** Upstream's thick manifest from its module with the image built here, imported into the node. */
async function upstreamManifest(info: NodeInfo): Promise<string> {
  const built = await buildGoModuleImage(upstreamScript);
  await importImage(info, built.image);
  const manifest = await readFile(join(built.moduleDir, "deployments", "multus-daemonset-thick.yml"), "utf8");
  const pinned = manifest.replace(/ghcr\.io\/k8snetworkplumbingwg\/multus-cni:snapshot-thick/g, built.imageName);
  assert.notEqual(pinned, manifest, "upstream's manifest names its image as expected");
  return pinned;
}

async function upstreamRollout(): Promise<void> {
  await kubectl(["rollout", "status", "daemonset/kube-multus-ds", "--timeout=150s"], { ...SYSTEM, timeoutMs: 165_000 });
}

/**
 * Pods created one after another while `during` runs: each must end up Running with net1, or the
 * test fails — no pod may start without its secondary network, whichever Multus answers it.
 */
async function churnDuring(t: TestContext, namespace: string, during: () => Promise<void>): Promise<string[]> {
  const names: string[] = [];
  const state = { stop: false };
  const churn = (async () => {
    for (let i = 0; !state.stop; i++) {
      const name = `churn-${String(i)}`;
      await createPod({ namespace, name, annotations: { "k8s.v1.cni.cncf.io/networks": "bridge" } });
      names.push(name);
      await sleep(1500);
    }
  })();
  try {
    await during();
  } finally {
    state.stop = true;
    await churn;
  }
  t.diagnostic(`${String(names.length)} pods created during the switch`);
  for (const name of names) {
    await waitPodReady(namespace, name, 150);
    const ifs = (await podInterfaces(namespace, name)).map((i) => i.name).sort();
    if (ifs.join(" ") !== "eth0 lo net1") {
      const status = await kubectl(["get", "pod", name, "-o", "jsonpath={.metadata.annotations}"], { namespace });
      const events = await eventMessages(namespace, name);
      const conf = await onNode(node(), "ls -l --time-style=+%T.%N /etc/cni/net.d; head -c 600 /etc/cni/net.d/00-multus.conf*");
      t.diagnostic(`${name}: annotations ${status}\nevents: ${events.join(" | ")}\nnet.d: ${conf}`);
    }
    assert.deepEqual(ifs, ["eth0", "lo", "net1"], `${name}, created during the switch, started with its networks`);
  }
  return names;
}

/** The upstream scratch cache and Multus-TS journal of the node, by file name. */
async function multusRecords(info: NodeInfo): Promise<string[]> {
  return (await onNode(info, "cd /var/lib/cni/multus 2>/dev/null && find . -maxdepth 2 -type f ! -name '*.lock' | sort || true")).split("\n").filter((l) => l !== "");
}

describe("the in-place upgrade from upstream Multus v4.3.0, and back", { concurrency: false }, () => {
  test("UPGRADE upstream thick v4.3.0 → Multus-TS (docs/install.md) → upstream: no pod starts without its networks during either switch; a pod upstream ADDed is deleted cleanly by Multus-TS from upstream's record; new pods get their networks each time", async (t) => {
    const info = node();
    const before = await cniDirs(info);
    const upstream = await upstreamManifest(info);
    t.after(async () => {
      await tryKubectl(["delete", "--ignore-not-found", "--wait=true", "--timeout=60s", "-f", "-"], { input: upstream });
    });
    await kubectl(["apply", "-f", "-"], { input: upstream });
    await upstreamRollout();

    // Under upstream: seed 000's bridge pod.
    const namespace = await createNamespace(t);
    await applyExample(namespace, "seed-000-bridge");
    await waitPodReady(namespace, "test-bridge");
    assert.deepEqual((await podInterfaces(namespace, "test-bridge")).map((i) => i.name).sort(), ["eth0", "lo", "net1"], "upstream attached test-bridge");
    const upstreamRecords = await multusRecords(info);
    assert.ok(upstreamRecords.some((f) => /^\.\/[0-9a-f]{64}$/.test(f)), `upstream's scratch cache is on the node: ${upstreamRecords.join(", ")}`);

    // The upgrade, as docs/install.md says, with pods being created all along.
    const installed = await installWith(t, "deploy/thick");
    await churnDuring(t, namespace, async () => {
      await rollout("multus");
      await kubectl(["delete", "daemonset", "kube-multus-ds", "--cascade=foreground", "--wait=true", "--timeout=120s"], { ...SYSTEM, timeoutMs: 135_000 });
    });
    const conf = await onNode(info, "ls /etc/cni/net.d");
    assert.match(conf, /^00-multus\.conflist$/m, "Multus-TS's config is in front");
    assert.doesNotMatch(conf, /^00-multus\.conf$/m, "upstream's is gone");

    // The pod upstream ADDed, deleted by Multus-TS from upstream's record: nothing of it is left.
    await kubectl(["delete", "pod", "test-bridge", "--grace-period=1", "--wait=true", "--timeout=60s"], { namespace, timeoutMs: 75_000 });
    const left = await multusRecords(info);
    for (const f of upstreamRecords) assert.ok(!left.includes(f), `upstream's record ${f} was consumed by the DEL`);
    await createPod({ namespace, name: "after-upgrade", annotations: { "k8s.v1.cni.cncf.io/networks": "bridge" } });
    await waitPodReady(namespace, "after-upgrade");
    assert.deepEqual((await podInterfaces(namespace, "after-upgrade")).map((i) => i.name).sort(), ["eth0", "lo", "net1"]);
    await deletePods(namespace);
    await expectNoResidue(info);

    // The rollback, as docs/install.md says: upstream's DaemonSet again, then Multus-TS away.
    await createPod({ namespace, name: "made-by-ours", annotations: { "k8s.v1.cni.cncf.io/networks": "bridge" } });
    await waitPodReady(namespace, "made-by-ours");
    await churnDuring(t, namespace, async () => {
      await kubectl(["apply", "-f", "-"], { input: upstream });
      await upstreamRollout();
      await installed.uninstall();
      await kubectl(["delete", "configmap", "multus-ts-daemon-config", "--ignore-not-found"], SYSTEM);
    });
    const back = await onNode(info, "ls /etc/cni/net.d");
    assert.match(back, /^00-multus\.conf$/m, "upstream's config is in front again");
    assert.doesNotMatch(back, /^00-multus\.conflist$/m, "Multus-TS's config is gone");
    await createPod({ namespace, name: "after-rollback", annotations: { "k8s.v1.cni.cncf.io/networks": "bridge" } });
    await waitPodReady(namespace, "after-rollback");
    assert.deepEqual((await podInterfaces(namespace, "after-rollback")).map((i) => i.name).sort(), ["eth0", "lo", "net1"]);
    // Pods made by Multus-TS are deleted by upstream (from the pod's annotation: upstream has no
    // record of them): they go, and their veths with them.
    await deletePods(namespace);
    const gone = await eventually(async () => (await tryKubectl(["get", "pods", "-o", "name"], { namespace })).stdout.trim() === "", 60_000);
    assert.ok(gone, "every pod was deleted under upstream");

    // Upstream away too: the node is as it was, but for what upstream's DaemonSet leaves (its shim
    // and passthru in /opt/cni/bin; /etc/cni/multus/net.d, made by the runtime for its hostPath).
    await kubectl(["delete", "daemonset", "kube-multus-ds", "--cascade=foreground", "--wait=true", "--timeout=120s"], { ...SYSTEM, timeoutMs: 135_000 });
    const upstreamLeaves = (l: string): boolean => /opt\/cni\/bin\/(multus-shim|passthru)$/.test(l) || /etc\/cni\/net\.d\/00-multus\.conf$/.test(l) || /etc\/cni\/multus(\/net\.d)?$/.test(l);
    const after = (await cniDirs(info)).split("\n").filter((l) => !upstreamLeaves(l)).join("\n");
    const base = before.split("\n").filter((l) => !upstreamLeaves(l)).join("\n");
    assert.equal(after, base, "nothing of Multus-TS is left on the node");
  });
});
