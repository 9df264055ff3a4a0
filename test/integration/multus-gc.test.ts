// GC and record-less DEL in Kubernetes mode. Real: kube-apiserver + etcd (pods and NADs as API
// objects, the multus ServiceAccount's RBAC), dist/bin/multus driven as the runtime drives it (GC with
// `cni.dev/valid-attachments`), the reference bridge and host-local plugins in namespaces the test
// creates, ping over the attachments that must survive.
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, test } from "node:test";
import { applyYaml, createNamespace, useCluster } from "../cluster/harness.ts";
import { nadYaml, useKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { execInNetns } from "../helpers/netns.ts";
import { runExecutable } from "../helpers/run-executable.ts";
import { replayUpstreamSandbox, upstreamLeases } from "../helpers/upstream-fixture.ts";

const cluster = useCluster();
const useBed = useKubeBed(cluster);
let bed: KubeBed;
beforeEach(() => {
  bed = useBed();
});

/** A bridge NAD whose CNI `name` is not the NAD's name (as in most real NADs). */
const nad = (ns: string, name: string, cniName: string, bridge: string, subnet: string): string =>
  nadYaml(ns, name, { cniVersion: "1.0.0", name: cniName, type: "bridge", bridge, isGateway: true, ipam: { type: "host-local", subnet, dataDir: bed.ipamDir } });

function gc(valid: TestPod[]): ReturnType<typeof runExecutable> {
  const conf = { ...(JSON.parse(bed.conf()) as Record<string, unknown>), cniVersion: "1.1.0", logLevel: "verbose", "cni.dev/valid-attachments": valid.map((p) => ({ containerID: p.containerId, ifname: "eth0" })) };
  return runExecutable("multus", { netns: bed.node.name, stdin: JSON.stringify(conf), env: { CNI_COMMAND: "GC", CNI_PATH: "/usr/lib/cni" } });
}

async function ping(p: TestPod, ifname: string, address: string): Promise<void> {
  await execInNetns(p.netns.name, ["ping", "-c", "1", "-W", "2", "-I", ifname, address]);
}

describe("GC in Kubernetes mode", () => {
  test("CNI-R-12 CNI-P-12 GC with one of two sandboxes on the same NAD valid tears down only the other; the valid one keeps every interface and still pings", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(nad(ns, "gc-net", "gc-cni-name", "mt-gcbr0", "10.33.0.0/24") + "---\n" + nad(ns, "same-net", "same-net", "mt-gcbr1", "10.34.0.0/24"));
    const live = await bed.createPod(ns, "gc-net,same-net", "live");
    const stale = await bed.createPod(ns, "gc-net,same-net", "stale");
    for (const p of [live, stale]) {
      const add = await bed.cni("ADD", p, { conf: bed.conf() });
      assert.equal(add.code, 0, add.stdout + add.stderr);
    }
    const collected = await gc([live]);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    assert.deepEqual([...(await bed.podInterfaces(stale)).keys()], [], "the sandbox the runtime no longer lists is torn down");
    assert.deepEqual([...(await bed.podInterfaces(live)).keys()].sort(), ["eth0", "net1", "net2"], "the live sandbox keeps all of its attachments");
    await ping(live, "eth0", "10.88.0.1");
    await ping(live, "net1", "10.33.0.1");
    await ping(live, "net2", "10.34.0.1");
    // A second GC with the same valid set finds nothing more to do.
    assert.equal((await gc([live])).code, 0);
    assert.deepEqual([...(await bed.podInterfaces(live)).keys()].sort(), ["eth0", "net1", "net2"]);
    assert.equal((await bed.cni("DEL", live, { conf: bed.conf() })).code, 0);
    for (const p of [live, stale]) assert.deepEqual(await bed.residue(p), []);
  });
});

describe("GC after an in-place upgrade from upstream Multus", () => {
  test("CNI-R-12 a sandbox upstream Go Multus ADDed (its own scratch cache) that the runtime no longer lists is torn down, and its record removed", async (t) => {
    const ns = await createNamespace(t);
    const p = await bed.sandbox(ns, "upstream-pod", "11111111-1111-1111-1111-111111111111");
    await replayUpstreamSandbox(t, bed, p);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()].sort(), ["data0", "eth0", "net2"]);
    const collected = await gc([]);
    assert.equal(collected.code, 0, collected.stdout + collected.stderr);
    assert.match(collected.stderr, /stale attachments of upstream Multus collected/);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()], []);
    assert.deepEqual(await bed.residue(p), []);
    assert.deepEqual(await upstreamLeases(), []);
  });
});

describe("DEL without a record", () => {
  test("an unreadable kubeconfig does not fail a record-less DEL: the networks every pod gets are still torn down from the config", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(nad(ns, "gone-net", "gone-net", "mt-gonebr", "10.35.0.0/24"));
    const p = await bed.createPod(ns, undefined);
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    // The journal is lost (an operator wiped cniDir's attachments/) and the kubeconfig is gone too.
    await rm(join(bed.cniDir, "attachments"), { recursive: true });
    const conf = bed.conf({ kubeconfig: join(bed.state, "no-such.kubeconfig") });
    const del = await bed.cni("DEL", p, { conf });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.match(del.stderr, /the plan cannot be rebuilt: tearing down the networks every pod gets, from the config alone/);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()], [], "the cluster network's eth0 is gone");
    assert.equal((await bed.cni("DEL", p, { conf, netnsPath: "" })).code, 0);
    assert.deepEqual(await bed.residue(p), [], "and its lease and cache entry with it");
  });
});
