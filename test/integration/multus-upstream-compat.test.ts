// Drop-in compatibility for selections that ask for `ips`/`mac` on networks whose plugins do not
// declare the capability (NPWG-08/09 say the attachment must fail; upstream passes IP=/MAC= as CNI_ARGS
// and the pod gets them). Multus-TS passes them the same way and accepts the attachment only when its
// result shows them. The two NADs and pods of upstream Multus's own e2e scenarios are reproduced
// with their values: e2e/templates/default-route1.yml.j2 (macvlan on eth1, `static` IPAM, no `ips`
// capability, `ips` and `default-route` requested) and e2e/templates/simple-macvlan1.yml.j2 (the same
// with `"capabilities": {"ips": true}` and a tuning plugin).
// Real: kube-apiserver + etcd, the NADs and pods as API objects, dist/bin/multus, the reference
// macvlan/static/tuning/bridge plugins in namespaces the test creates (`eth1` is a veth in the node
// namespace whose peer is in a "lan" namespace), ping between the pods over macvlan.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { applyYaml, createNamespace, useCluster } from "../cluster/harness.ts";
import { nadYaml, useKubeBed, type KubeBed } from "../helpers/kube-bed.ts";
import { createVethPair, execInNetns, listRoutes } from "../helpers/netns.ts";
import { stdoutJson } from "../helpers/run-executable.ts";

const cluster = useCluster();
const useBed = useKubeBed(cluster, {
  // Upstream's kind nodes have a second NIC eth1: here a veth with its peer in the lan namespace.
  prepareNode: (node, lan) => createVethPair({ ns: node.name, name: "eth1" }, { ns: lan.name, name: "eth1-peer" }),
});
let bed: KubeBed;
beforeEach(() => {
  bed = useBed();
});

const listNad = (ns: string, name: string, plugins: object[]): string => nadYaml(ns, name, { cniVersion: "1.0.0", plugins });

describe("ips and mac without the capability: the CNI_ARGS route, verified", () => {
  test("NPWG-08 NPWG-14 upstream's default-route1: static IPAM without the ips capability gets its address via IP=, and the default route", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(listNad(ns, "default-route-config", [{ type: "macvlan", master: "eth1", mode: "bridge", ipam: { type: "static" } }]));
    const w1 = await bed.createPod(ns, JSON.stringify([{ name: "default-route-config", ips: ["10.1.1.21/24"], "default-route": ["10.1.1.254"] }]), "default-route-worker1");
    const w2 = await bed.createPod(ns, JSON.stringify([{ name: "default-route-config", ips: ["10.1.1.22/24"] }]), "default-route-worker2");
    for (const w of [w1, w2]) {
      const add = await bed.cni("ADD", w, { conf: bed.conf() });
      assert.equal(add.code, 0, add.stdout + add.stderr);
    }
    assert.deepEqual((await bed.podInterfaces(w1)).get("net1")?.ips, ["10.1.1.21"]);
    assert.deepEqual((await bed.podInterfaces(w2)).get("net1")?.ips, ["10.1.1.22"]);
    // What upstream's test-default-route1.sh checks: worker1 routes via 10.1.1.254, worker2 via the cluster network.
    assert.deepEqual((await listRoutes(w1.netns.name, 4)).filter((r) => r.dst === "default").map((r) => [r.gateway, r.dev]), [["10.1.1.254", "net1"]]);
    assert.deepEqual((await listRoutes(w2.netns.name, 4)).filter((r) => r.dst === "default").map((r) => [r.gateway, r.dev]), [["10.88.0.1", "eth0"]]);
    assert.deepEqual((await bed.networkStatus(w1)).find((s) => s.interface === "net1")?.ips, ["10.1.1.21"]);
    await execInNetns(w1.netns.name, ["ping", "-c", "1", "-W", "2", "-I", "net1", "10.1.1.22"]);
    for (const w of [w1, w2]) assert.equal((await bed.cni("DEL", w, { conf: bed.conf() })).code, 0);
    for (const w of [w1, w2]) assert.deepEqual(await bed.residue(w), []);
  });

  test("NPWG-08 upstream's simple-macvlan1: with the ips capability the address comes through runtimeConfig (tuning chained)", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(listNad(ns, "macvlan1-config", [{ type: "macvlan", capabilities: { ips: true }, master: "eth1", mode: "bridge", ipam: { type: "static" } }, { type: "tuning" }]));
    const w1 = await bed.createPod(ns, JSON.stringify([{ name: "macvlan1-config", ips: ["10.1.1.11/24"] }]), "macvlan1-worker1");
    const w2 = await bed.createPod(ns, JSON.stringify([{ name: "macvlan1-config", ips: ["10.1.1.12/24"] }]), "macvlan1-worker2");
    for (const w of [w1, w2]) assert.equal((await bed.cni("ADD", w, { conf: bed.conf() })).code, 0);
    assert.deepEqual((await bed.podInterfaces(w1)).get("net1")?.ips, ["10.1.1.11"]);
    await execInNetns(w1.netns.name, ["ping", "-c", "1", "-W", "2", "-I", "net1", "10.1.1.12"]);
    for (const w of [w1, w2]) assert.equal((await bed.cni("DEL", w, { conf: bed.conf() })).code, 0);
    for (const w of [w1, w2]) assert.deepEqual(await bed.residue(w), []);
  });

  test("NPWG-09 a mac request no plugin applies (ptp reads no MAC=) fails naming the capability, and nothing is left", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(nadYaml(ns, "plain-ptp", { cniVersion: "1.0.0", type: "ptp", ipam: { type: "host-local", subnet: "10.31.0.0/24", dataDir: bed.ipamDir } }));
    const p = await bed.createPod(ns, JSON.stringify([{ name: "plain-ptp", mac: "02:00:00:00:31:01" }]));
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 1, add.stdout);
    const err = stdoutJson(add);
    assert.equal(err["details"], "MULTUS_ERR_CAPABILITY_MISSING");
    assert.match(String(err["msg"]), new RegExp(`^network "${ns}/plain-ptp" \\(interface net1\\): the result lacks the requested MAC 02:00:00:00:31:01 \\("mac", capability "mac"\\).*add "capabilities": \\{"mac": true\\}`));
    assert.deepEqual(await bed.residue(p), [], "the attachment that ignored the request was rolled back with the rest");
    assert.ok((await bed.events(p)).some((e) => e.startsWith("Warning NetworkAttachmentFailed:") && e.includes('capability "mac"')));
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
  });

  test("NPWG-09 the same mac request succeeds through tuning, which reads MAC= from CNI_ARGS", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(listNad(ns, "tuned", [{ type: "ptp", ipam: { type: "host-local", subnet: "10.32.0.0/24", dataDir: bed.ipamDir } }, { type: "tuning" }]));
    const p = await bed.createPod(ns, JSON.stringify([{ name: "tuned", mac: "02:00:00:00:32:01" }]));
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout);
    assert.equal((await bed.podInterfaces(p)).get("net1")?.mac, "02:00:00:00:32:01");
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });
});
