// Kubernetes mode end to end. Real: kube-apiserver + etcd (test/cluster), the NAD CRD and the RBAC
// we ship, the multus ServiceAccount's token (so every read and patch passes real RBAC), kubectl,
// dist/bin/multus and the reference CNI plugins in namespaces the test creates. Pods are created
// through the API; no kubelet runs them here, so each pod's "sandbox" is a network namespace and
// dist/bin/multus is driven with the env and CNI_ARGS a runtime would send (test/helpers/kube-bed.ts).
// The same suite runs in thick mode (multus-pods-thick.test.ts): dist/bin/multus-shim forwarding to a
// real dist/bin/multus-daemon with informers on the real API; every assertion is the same.
import assert from "node:assert/strict";
import { beforeEach, describe, test, type TestContext } from "node:test";
import { applyYaml, createNamespace, kubectl, useCluster } from "../cluster/harness.ts";
import { nadYaml, useKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { execInNetns, listRoutes } from "../helpers/netns.ts";
import { stdoutJson } from "../helpers/run-executable.ts";
import { replayUpstreamSandbox, upstreamLeases } from "../helpers/upstream-fixture.ts";

const cluster = useCluster();


const useBed = useKubeBed(cluster);
let bed: KubeBed;
beforeEach(() => {
  bed = useBed();
});

const bridgeNad = (ns: string, name = "bridge-net", subnet = "10.30.0.0/24"): string =>
  nadYaml(ns, name, { cniVersion: "1.0.0", type: "bridge", bridge: `mt-${name.slice(0, 8)}`, ipam: { type: "host-local", subnet, dataDir: bed.ipamDir } });

const macvlanNad = (ns: string, name = "macvlan-net"): string =>
  nadYaml(ns, name, { cniVersion: "1.0.0", plugins: [{ type: "macvlan", master: "lan0", mode: "bridge", capabilities: { ips: true }, ipam: { type: "static" } }, { type: "tuning", capabilities: { mac: true } }] });

async function expectFailure(t: TestContext, p: TestPod, conf: string, message: RegExp): Promise<void> {
  const add = await bed.cni("ADD", p, { conf });
  assert.equal(add.code, 1, `ADD should fail: ${add.stdout}`);
  const err = stdoutJson(add);
  assert.match(String(err["msg"]), message);
  assert.deepEqual(await bed.residue(p), [], "a failed ADD leaves nothing behind");
  assert.deepEqual([...(await bed.podInterfaces(p)).keys()], []);
  const ev = await bed.events(p);
  assert.ok(ev.some((e) => e.startsWith("Warning NetworkAttachmentFailed:") && message.test(e)), `a Warning event names the problem: ${ev.join(" | ")}`);
  t.diagnostic(String(err["msg"]));
  // The runtime always follows a failed ADD with DEL: without a record, and with a selection that
  // cannot even be planned, it must still succeed.
  const del = await bed.cni("DEL", p, { conf });
  assert.equal(del.code, 0, `DEL after the failed ADD: ${del.stdout}`);
  assert.deepEqual(await bed.residue(p), []);
}

const mode = process.env["MULTUS_TS_MODE"] === "thick" ? "thick" : "thin";

describe(`multus with Kubernetes (${mode} mode): annotations, NADs, network-status`, () => {
  test("NPWG-17 NPWG-18 NPWG-19 NPWG-21 NPWG-22 bridge-net,bridge-net gives net1 and net2 with distinct addresses; network-status matches ip -json", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const p = await bed.createPod(ns, "bridge-net,bridge-net");
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const real = await bed.podInterfaces(p);
    assert.deepEqual([...real.keys()].sort(), ["eth0", "net1", "net2"]);
    const status = await bed.networkStatus(p);
    assert.deepEqual(status.map((s) => [s.name, s.interface, s.default]), [
      ["cluster-net", "eth0", true],
      [`${ns}/bridge-net`, "net1", false],
      [`${ns}/bridge-net`, "net2", false],
    ]);
    for (const s of status) {
      const r = real.get(s.interface ?? "");
      assert.ok(r !== undefined);
      assert.equal(s.mac, r.mac, `${String(s.interface)} MAC`);
      assert.deepEqual(s.ips, r.ips, `${String(s.interface)} IPs`);
    }
    assert.notDeepEqual(status[1]?.ips, status[2]?.ips, "distinct addresses from the same NAD");
    const ev = await bed.events(p);
    assert.equal(ev.filter((e) => e.startsWith("Normal AddedInterface:")).length, 3, ev.join(" | "));

    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf(), netnsPath: "" })).code, 0, "a repeated DEL without netns succeeds");
    assert.deepEqual(await bed.residue(p), []);
  });

  test("NPWG-07 NPWG-08 NPWG-09 NPWG-10 NPWG-11 JSON form: custom interface names, static ips and mac through capabilities", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns) + "---\n" + macvlanNad(ns));
    const p = await bed.createPod(ns, JSON.stringify([
      { name: "bridge-net", interface: "data0", "cni-args": { note: "x" } },
      { name: "macvlan-net", namespace: ns, interface: "dataplane1", ips: ["10.20.0.50/24"], mac: "02:00:00:00:00:50" },
    ]));
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const real = await bed.podInterfaces(p);
    assert.deepEqual([...real.keys()].sort(), ["data0", "dataplane1", "eth0"]);
    assert.deepEqual(real.get("dataplane1"), { mac: "02:00:00:00:00:50", ips: ["10.20.0.50"] });
    await execInNetns(p.netns.name, ["ping", "-c", "1", "-W", "2", "-I", "dataplane1", "10.20.0.1"]);
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("NPWG-12 NPWG-13 NPWG-28 portMappings and bandwidth of a selection reach only its own portmap/bandwidth plugins", async (t) => {
    const ns = await createNamespace(t);
    const conflist = {
      cniVersion: "1.0.0",
      plugins: [
        { type: "bridge", bridge: "mt-pm0", ipam: { type: "host-local", subnet: "10.70.0.0/24", dataDir: bed.ipamDir } },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "bandwidth", capabilities: { bandwidth: true } },
      ],
    };
    await applyYaml(nadYaml(ns, "pm-net", conflist));
    const p = await bed.createPod(ns, JSON.stringify([{ name: "pm-net", portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }], bandwidth: { ingressRate: 1000000, ingressBurst: 100000 } }]));
    // The runtime's own pod-level port mapping must stay on eth0 (the cluster network has no portmap).
    const conf = JSON.parse(bed.conf()) as Record<string, unknown>;
    conf["runtimeConfig"] = { portMappings: [{ HostPort: 19090, ContainerPort: 90, Protocol: "TCP" }] };
    const add = await bed.cni("ADD", p, { conf: JSON.stringify(conf) });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const rules = (await execInNetns(bed.node.name, ["iptables-save", "-t", "nat"])).stdout;
    assert.match(rules, /--dport 18080 .*-j CNI-DN-|--dports 18080/, "the selection's port mapping is programmed by portmap");
    assert.doesNotMatch(rules, /19090/, "the runtime's port mapping does not leak to the secondary (NPWG-28)");
    const qdiscs = (await execInNetns(bed.node.name, ["tc", "qdisc", "show"])).stdout;
    assert.match(qdiscs, /tbf/, "the selection's bandwidth is shaped by the bandwidth plugin");
    assert.equal((await bed.cni("DEL", p, { conf: JSON.stringify(conf) })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("NPWG-14 default-route moves the pod's default route to the requested gateway and removes eth0's", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns, "gw-net", "10.40.0.0/24").replace('"type":"bridge"', '"type":"bridge","isGateway":true'));
    const p = await bed.createPod(ns, JSON.stringify([{ name: "gw-net", "default-route": ["10.40.0.1"] }]));
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const defaults = (await listRoutes(p.netns.name, 4)).filter((r) => r.dst === "default");
    assert.deepEqual(defaults.map((r) => [r.gateway, r.dev]), [["10.40.0.1", "net1"]]);
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("NPWG-25 rollback: when the third of three attachments fails, nothing is left and the error names it", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns) + "---\n" + nadYaml(ns, "broken-net", { cniVersion: "1.0.0", type: "macvlan", master: "no-such-parent", ipam: { type: "host-local", subnet: "10.50.0.0/24", dataDir: bed.ipamDir } }));
    const p = await bed.createPod(ns, "bridge-net,broken-net");
    await expectFailure(t, p, bed.conf(), /network ".*\/broken-net" \(interface net2\)/);
  });

  for (const [title, networks, message] of [
    ["a trailing comma", "bridge-net,", /element 1/],
    ["an interface name of 16 bytes", JSON.stringify([{ name: "bridge-net", interface: "sixteen-bytes-xx" }]), /element 0.*interface/],
    ["a MAC zz:bb", JSON.stringify([{ name: "bridge-net", mac: "zz:bb" }]), /element 0.*mac/i],
    ["two elements with default-route", JSON.stringify([{ name: "bridge-net", "default-route": [] }, { name: "bridge-net", "default-route": [] }]), /default-route/],
    ["a NAD that does not exist", "missing-net", /missing-net not found/],
    ["portMappings on a network without the portMappings capability", JSON.stringify([{ name: "bridge-net", portMappings: [{ hostPort: 18081, containerPort: 80 }] }]), /requests "portMappings" but none of its plugins declares/],
  ] as const) {
    test(`NPWG-27 NPWG-08 NPWG-09 NPWG-10 NPWG-14 bad selection fails the ADD naming the element: ${title}`, async (t) => {
      const ns = await createNamespace(t);
      await applyYaml(bridgeNad(ns));
      const p = await bed.createPod(ns, networks);
      await expectFailure(t, p, bed.conf(), message);
    });
  }

  test("NPWG-27 namespace isolation denies a NAD of another namespace and allows the pod's own and global ones", async (t) => {
    const ns = await createNamespace(t);
    const other = await createNamespace(t);
    await applyYaml(bridgeNad(ns) + "---\n" + bridgeNad(other, "other-net", "10.60.0.0/24"));
    const denied = await bed.createPod(ns, `${other}/other-net`, "denied");
    await expectFailure(t, denied, bed.conf({ namespaceIsolation: true }), /namespace/i);
    const allowed = await bed.createPod(ns, `bridge-net,${other}/other-net`, "allowed");
    const add = await bed.cni("ADD", allowed, { conf: bed.conf({ namespaceIsolation: true, globalNamespaces: other }) });
    assert.equal(add.code, 0, add.stdout);
    assert.equal((await bed.cni("DEL", allowed, { conf: bed.conf({ namespaceIsolation: true, globalNamespaces: other }) })).code, 0);
    assert.deepEqual(await bed.residue(allowed), []);
  });

  test("DEL after the pod was deleted from the API uses the record and leaves nothing", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const p = await bed.createPod(ns, "bridge-net");
    assert.equal((await bed.cni("ADD", p, { conf: bed.conf() })).code, 0);
    await kubectl(["delete", "pod", "-n", ns, p.name, "--grace-period=0", "--force", "--wait=false"]);
    const del = await bed.cni("DEL", p, { conf: bed.conf() });
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("a static pod is found through its mirror pod (the runtime's UID is the static pod's), and its network-status lands on the mirror", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const staticUid = "22222222-2222-2222-2222-222222222222";
    await applyYaml(`
apiVersion: v1
kind: Pod
metadata:
  name: static-p
  namespace: ${ns}
  annotations: { "kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": "${staticUid}", "k8s.v1.cni.cncf.io/networks": "bridge-net" }
spec:
  nodeName: mt-node
  containers: [{ name: c, image: busybox }]
`);
    const p = await bed.sandbox(ns, "static-p", staticUid);
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 0, add.stdout);
    assert.deepEqual((await bed.networkStatus(p)).map((s) => s.interface), ["eth0", "net1"]);
    const stranger = await bed.sandbox(ns, "static-p", "33333333-3333-3333-3333-333333333333");
    const refused = await bed.cni("ADD", stranger, { conf: bed.conf() });
    assert.equal(refused.code, 1, "a UID that is neither the pod's nor its mirror's is refused");
    assert.match(String(stdoutJson(refused)["msg"]), /recreated/);
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("ADD for a pod that no longer exists fails with code 3 and attaches nothing", async (t) => {
    const ns = await createNamespace(t);
    const p = await bed.sandbox(ns, "gone", "00000000-0000-0000-0000-000000000000");
    const add = await bed.cni("ADD", p, { conf: bed.conf() });
    assert.equal(add.code, 1);
    assert.equal(stdoutJson(add)["code"], 3);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("the runtime's pod annotations (containerd runtimeConfig) win over the API's", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(bridgeNad(ns));
    const p = await bed.createPod(ns, undefined);
    const conf = JSON.parse(bed.conf()) as Record<string, unknown>;
    conf["runtimeConfig"] = { "io.kubernetes.cri.pod-annotations": { "k8s.v1.cni.cncf.io/networks": "bridge-net" } };
    const add = await bed.cni("ADD", p, { conf: JSON.stringify(conf) });
    assert.equal(add.code, 0, add.stdout);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()].sort(), ["eth0", "net1"]);
    assert.equal((await bed.cni("DEL", p, { conf: JSON.stringify(conf) })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("DEL of a sandbox ADDed by upstream Go Multus v4.3.0 (its own scratch cache, test/fixtures/upstream-multus) tears all of it down", async (t) => {
    const ns = await createNamespace(t);
    const p = await bed.sandbox(ns, "upstream-pod", "11111111-1111-1111-1111-111111111111");
    await replayUpstreamSandbox(t, bed, p);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()].sort(), ["data0", "eth0", "net2"]);
    assert.equal((await bed.podInterfaces(p)).get("net2")?.mac, "02:00:00:00:00:77");
    const del = await bed.cni("DEL", p, { conf: bed.conf() });
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()], []);
    assert.deepEqual(await bed.residue(p), [], "nothing of the sandbox, and upstream's record is removed");
    assert.deepEqual(await upstreamLeases(), [], "every host-local lease of the record's networks is released");
    assert.equal((await bed.cni("DEL", p, { conf: bed.conf(), netnsPath: "" })).code, 0);
  });
});
