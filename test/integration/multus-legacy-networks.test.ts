// Multus v1's legacy Network API (seeds 002/003; docs/legacy-networks.md) end to end on the real API.
// Real: kube-apiserver + etcd (test/cluster), the networks.kubernetes.com CRD and the RBAC of
// deploy/legacy, the multus ServiceAccount's token (its reads of Network objects pass real RBAC),
// kubectl, dist/bin/multus (or, with MULTUS_TS_MODE=thick, dist/bin/multus-shim and a real
// dist/bin/multus-daemon) and the reference bridge, ptp and host-local plugins in namespaces the test
// creates. No kubelet runs the pods: each pod's sandbox is a network namespace (test/helpers/kube-bed.ts).
import assert from "node:assert/strict";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { before, beforeEach, describe, test, type TestContext } from "node:test";
import { applyYaml, createNamespace, kubectl, repoRoot, tryKubectl, useCluster } from "../cluster/harness.ts";
import { useKubeBed, type KubeBed, type TestPod } from "../helpers/kube-bed.ts";
import { stdoutJson } from "../helpers/run-executable.ts";

const cluster = useCluster();
const mode = process.env["MULTUS_TS_MODE"] === "thick" ? "thick" : "thin";
// Thick: the administrator turns the key on in the daemon config (as deploy/legacy does); thin: in
// the Multus config the runtime passes.
const useBed = useKubeBed(cluster, mode === "thick" ? { daemonConfig: { legacyNetworks: true } } : {});
let bed: KubeBed;
beforeEach(() => {
  bed = useBed();
});

before(async () => {
  await kubectl(["apply", "-f", join(repoRoot, "deploy", "legacy", "network-crd.yaml"), "-f", join(repoRoot, "deploy", "legacy", "rbac.yaml")]);
  await kubectl(["wait", "--for=condition=Established", "crd/networks.kubernetes.com", "--timeout=30s"]);
});

/** A Network object as seed 003 writes them: `plugin` and `args`, a JSON list in a string. */
function network(namespace: string, name: string, plugin: string, body: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name, namespace }, plugin, args: JSON.stringify([body]) };
}

/** Seed 003's two networks: flannel-conf (here a bridge: flannel does not run on this machine) and its ptp-conf. */
function seed003Networks(ns: string): string {
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: [
    network(ns, "flannel-conf", "bridge", { bridge: "mt-flan0", isDefaultGateway: true, ipam: { type: "host-local", subnet: "10.244.0.0/24", dataDir: bed.ipamDir } }),
    network(ns, "ptp-conf", "ptp", { name: "ptp", ipam: { type: "host-local", subnet: "10.168.1.0/24", rangeStart: "10.168.1.11", rangeEnd: "10.168.1.20", routes: [{ dst: "10.168.0.0/16" }], gateway: "10.168.1.1", dataDir: bed.ipamDir } }),
  ] });
}

const SEED_003_ANNOTATION = '[\n    { "name": "flannel-conf" },\n    { "name": "ptp-conf"}\n]';

/** A pod with the legacy annotation (and no k8s.v1.cni.cncf.io/networks), and its sandbox. */
async function legacyPod(ns: string, networks: string, name = "multus-multi-net-poc"): Promise<TestPod> {
  await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, annotations: { networks } }, spec: { nodeName: "mt-node", containers: [{ name: "c", image: "busybox" }] } }));
  const uid = (await kubectl(["get", "pod", "-n", ns, name, "-o", "jsonpath={.metadata.uid}"])).trim();
  return bed.sandbox(ns, name, uid);
}

const conf = (): string => bed.conf(mode === "thin" ? { legacyNetworks: true } : {});

async function expectRefused(t: TestContext, p: TestPod, message: RegExp): Promise<void> {
  const add = await bed.cni("ADD", p, { conf: conf() });
  assert.equal(add.code, 1, `ADD should fail: ${add.stdout}`);
  assert.match(String(stdoutJson(add)["msg"]), message);
  t.diagnostic(String(stdoutJson(add)["msg"]));
  assert.deepEqual([...(await bed.podInterfaces(p)).keys()], [], "nothing was attached");
  assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
  assert.deepEqual(await bed.residue(p), []);
}

describe(`legacy Network objects (${mode} mode)`, () => {
  test("seed 003: the multus-multi-net-poc pod gets eth0 from flannel-conf and net0 from ptp-conf; network-status and events name both; DEL leaves nothing", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(seed003Networks(ns));
    const p = await legacyPod(ns, SEED_003_ANNOTATION);
    const add = await bed.cni("ADD", p, { conf: conf() });
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const real = await bed.podInterfaces(p);
    assert.deepEqual([...real.keys()].sort(), ["eth0", "net0"]);
    assert.match(real.get("eth0")?.ips[0] ?? "", /^10\.244\.0\.\d+$/, "eth0 is flannel-conf's, in place of the cluster network");
    assert.deepEqual(real.get("net0")?.ips, ["10.168.1.11"], "net0 is ptp-conf's first address, as seed 003's ifconfig shows");
    const status = await bed.networkStatus(p);
    assert.deepEqual(status.map((s) => [s.name, s.interface, s.default]), [
      [`${ns}/flannel-conf`, "eth0", true],
      [`${ns}/ptp-conf`, "net0", false],
    ]);
    assert.deepEqual(status[1]?.ips, ["10.168.1.11"]);
    const ev = await bed.events(p);
    assert.equal(ev.filter((e) => e.startsWith("Normal AddedInterface:")).length, 2, ev.join(" | "));
    assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("a DEL without a record (the journal lost) rebuilds the legacy plan from the pod and releases both leases", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(seed003Networks(ns));
    const p = await legacyPod(ns, SEED_003_ANNOTATION);
    assert.equal((await bed.cni("ADD", p, { conf: conf() })).code, 0);
    for (const f of await readdir(join(bed.cniDir, "attachments"))) if (f.startsWith(p.containerId)) await rm(join(bed.cniDir, "attachments", f));
    assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });

  test("the journal alone tears a legacy pod down: with the pod and its Networks gone from the API, DEL still releases both leases", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(seed003Networks(ns));
    const p = await legacyPod(ns, SEED_003_ANNOTATION);
    assert.equal((await bed.cni("ADD", p, { conf: conf() })).code, 0);
    await kubectl(["delete", "pod", p.name, "-n", ns, "--grace-period=0", "--force", "--wait=true"]);
    await kubectl(["delete", "networks", "--all", "-n", ns, "--wait=true"]);
    assert.equal((await bed.cni("DEL", p, { conf: conf() })).code, 0);
    assert.deepEqual(await bed.residue(p), [], "the journal recorded both legacy attachments in a form a DEL reads back");
  });

  test("a missing Network is named in the error and nothing is left", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(seed003Networks(ns));
    const p = await legacyPod(ns, '[{"name":"flannel-conf"},{"name":"no-such-net"}]');
    await expectRefused(t, p, new RegExp(`Network ${ns}/no-such-net \\(kubernetes\\.com/v1\\) not found`));
  });

  test("a tenant's Network whose plugin is Multus itself is refused by the delegate policy, as a NAD would be", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(JSON.stringify(network(ns, "evil", "multus", { kubeconfig: "/etc/kubernetes/admin.conf" })));
    const p = await legacyPod(ns, '[{"name":"evil"}]');
    await expectRefused(t, p, new RegExp(`^Network ${ns}/evil \\(kubernetes\\.com/v1\\): plugin/args plugins\\[0\\]\\.type is "multus", one of Multus's own programs`));
  });

  test("the CRD refuses a Network without plugin, and args that is not a string", async (t) => {
    const ns = await createNamespace(t);
    const noPlugin = await tryKubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "x", namespace: ns }, args: "[]" }) });
    assert.notEqual(noPlugin.code, 0);
    assert.match(noPlugin.stderr, /plugin: Required value/);
    const listArgs = await tryKubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "y", namespace: ns }, plugin: "ptp", args: [{}] }) });
    assert.notEqual(listArgs.code, 0);
    assert.match(listArgs.stderr, /args: Invalid value: "array"/);
  });
});

describe(`legacyNetworks off (${mode} mode)`, () => {
  test("without the key the legacy annotation is not read: the pod gets the cluster network only", async (t) => {
    if (mode === "thick") {
      await bed.daemon?.stop("SIGTERM", 10_000);
      await bed.startDaemon({ legacyNetworks: false });
    }
    const ns = await createNamespace(t);
    await applyYaml(seed003Networks(ns));
    const p = await legacyPod(ns, SEED_003_ANNOTATION);
    const plain = bed.conf();
    assert.equal((await bed.cni("ADD", p, { conf: plain })).code, 0);
    assert.deepEqual([...(await bed.podInterfaces(p)).keys()], ["eth0"]);
    assert.deepEqual((await bed.networkStatus(p)).map((s) => s.name), ["cluster-net"]);
    assert.equal((await bed.cni("DEL", p, { conf: plain })).code, 0);
    assert.deepEqual(await bed.residue(p), []);
  });
});
