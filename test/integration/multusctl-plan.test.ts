// multusctl plan through the real executable (dist/bin/multusctl) against the real kube-apiserver: the
// engine's planner over real NADs and pods, nothing executed on the node.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { applyYaml, createNamespace, run, useCluster, type RunResult } from "../cluster/harness.ts";
import { binPath } from "../helpers/run-executable.ts";

const cluster = useCluster();
let dir = "";
let config = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "multusctl-plan-"));
  const cluster = join(dir, "cluster.conf");
  await writeFile(cluster, JSON.stringify({ cniVersion: "1.0.0", name: "cluster-net", type: "ptp", ipam: { type: "host-local", subnet: "10.125.0.0/24" } }));
  config = join(dir, "multus.conf");
  await writeFile(config, JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: cluster, binDir: "/usr/lib/cni", confDir: join(dir, "net.d") }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function multusctl(args: readonly string[]): Promise<RunResult> {
  return run(binPath("multusctl"), ["--kubeconfig", cluster.adminKubeconfig, "--config", config, ...args], { timeoutMs: 60_000 });
}

interface Plan {
  pod: string;
  attachments: { index: number; network: string; interface: string; default: boolean; types: string[]; delegate: { name: string } }[];
}

const pod = (ns: string, name: string, networks: string): object => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, annotations: { "k8s.v1.cni.cncf.io/networks": networks } }, spec: { nodeName: "nowhere", containers: [{ name: "c", image: "busybox:1.35.0" }] } });
const nad = (ns: string, name: string, type: string): object => ({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name, namespace: ns }, spec: { config: JSON.stringify({ cniVersion: "1.0.0", type, ...(type === "macvlan" ? { master: "eth0" } : {}) }) } });

describe("multusctl plan (dist/bin/multusctl, real API server)", () => {
  test("a pod's networks become eth0 (cluster network), net1, a custom name, net3 — the planner's names and delegate configs", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [nad(ns, "a", "bridge"), nad(ns, "b", "macvlan"), pod(ns, "p", "a, b@blue, a")] }));
    const res = await multusctl(["plan", "p", "-n", ns, "-o", "json"]);
    assert.equal(res.code, 0, res.stderr);
    const plan = JSON.parse(res.stdout) as Plan;
    assert.equal(plan.pod, `${ns}/p`);
    assert.deepEqual(plan.attachments.map((a) => [a.network, a.interface, a.types.join(","), a.default]), [
      ["cluster-net", "eth0", "ptp", true],
      [`${ns}/a`, "net1", "bridge", false],
      [`${ns}/b`, "blue", "macvlan", false],
      [`${ns}/a`, "net3", "bridge", false],
    ]);
    assert.equal(plan.attachments[1]?.delegate.name, "a", "NPWG-03: the NAD's name when the config has none");
    const table = await multusctl(["plan", "p", "-n", ns]);
    t.diagnostic(table.stdout);
    assert.match(table.stdout, /^#\s+NETWORK\s+INTERFACE\s+PLUGINS\s+DEVICE\s+NOTES\n0\s+cluster-net\s+eth0\s+ptp\s+cluster network\n/);
  });

  test("a pod naming a missing NAD: exit 1 and the error names it; -f pod.yaml plans a manifest not yet created", async (t) => {
    const ns = await createNamespace(t);
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [nad(ns, "a", "bridge"), pod(ns, "broken", "a, ghost")] }));
    const res = await multusctl(["plan", "broken", "-n", ns]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`NetworkAttachmentDefinition ${ns}/ghost not found`));

    const manifest = join(dir, "pod.yaml");
    await writeFile(manifest, `apiVersion: v1\nkind: Pod\nmetadata:\n  name: later\n  annotations:\n    k8s.v1.cni.cncf.io/networks: '[{"name":"a","interface":"data0"}]'\nspec:\n  containers: [{name: c, image: busybox}]\n`);
    const fromFile = await multusctl(["plan", "-f", manifest, "-n", ns, "-o", "yaml"]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, new RegExp(`pod: ${ns}/later`));
    assert.match(fromFile.stdout, /interface: data0/);

    const usage = await multusctl(["plan"]);
    assert.equal(usage.code, 2);
  });
});
