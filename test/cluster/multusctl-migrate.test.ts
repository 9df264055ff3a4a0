// multusctl migrate on the real API server. Real: kube-apiserver + etcd (test/cluster), the
// networks.kubernetes.com CRD of deploy/legacy, the NAD CRD, kubectl, and dist/bin/multusctl with the
// admin kubeconfig (an operator's). No node is needed: migrate reads and writes API objects only.
import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { applyYaml, createNamespace, kubectl, repoRoot, run, tryKubectl, useCluster, type RunResult } from "./harness.ts";
import { binPath } from "../helpers/run-executable.ts";

const cluster = useCluster();

before(async () => {
  await kubectl(["apply", "-f", join(repoRoot, "deploy", "legacy", "network-crd.yaml")]);
  await kubectl(["wait", "--for=condition=Established", "crd/networks.kubernetes.com", "--timeout=30s"]);
});

function multusctl(args: readonly string[]): Promise<RunResult> {
  return run(binPath("multusctl"), ["--kubeconfig", cluster.adminKubeconfig, ...args], { timeoutMs: 60_000 });
}

const LEGACY = '[{"name":"flannel-conf"},{"name":"ptp-conf"}]';

/** Seed 003's objects in `ns`: two Networks, a Deployment and a standalone pod with the legacy annotation. */
async function seed(ns: string): Promise<void> {
  const network = (name: string, plugin: string, body: object): object => ({ apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name, namespace: ns }, plugin, args: JSON.stringify([body]) });
  const template = { metadata: { labels: { app: "legacy" }, annotations: { networks: LEGACY } }, spec: { containers: [{ name: "c", image: "busybox:1.35.0" }] } };
  await applyYaml(JSON.stringify({
    apiVersion: "v1", kind: "List", items: [
      network("flannel-conf", "bridge", { bridge: "legacy0", ipam: { type: "host-local", subnet: "10.245.0.0/24" } }),
      network("ptp-conf", "ptp", { name: "ptp", ipam: { type: "host-local", subnet: "10.168.1.0/24" } }),
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: ns }, spec: { replicas: 0, selector: { matchLabels: { app: "legacy" } }, template } },
      { apiVersion: "v1", kind: "Pod", metadata: { name: "multus-multi-net-poc", namespace: ns, annotations: { networks: LEGACY } }, spec: { nodeName: "nowhere", containers: [{ name: "c", image: "busybox:1.35.0" }] } },
    ],
  }));
}

async function annotations(ns: string, what: string, path: string): Promise<Record<string, string>> {
  return JSON.parse((await kubectl(["get", what, "-n", ns, "-o", `jsonpath={${path}}`])) || "{}") as Record<string, string>;
}

describe("multusctl migrate (dist/bin/multusctl, real API server)", () => {
  test("a dry run prints the NADs and the annotation diff and changes nothing; --apply creates the NADs and patches the Deployment's template and the pod; a second run has nothing to do", async (t) => {
    const ns = await createNamespace(t);
    await seed(ns);

    const dry = await multusctl(["migrate", "-n", ns]);
    t.diagnostic(dry.stdout);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^# multusctl migrate \(dry run; --apply to make these changes\)/);
    assert.match(dry.stdout, /kind: NetworkAttachmentDefinition\n {2}metadata:|kind: NetworkAttachmentDefinition\nmetadata:/);
    assert.match(dry.stdout, new RegExp(`# --- deployment ${ns}/web \\(spec\\.template\\.metadata\\.annotations\\)\\n# - networks: .*\\n# \\+ v1\\.multus-cni\\.io/default-network: "${ns}/flannel-conf"\\n# \\+ k8s\\.v1\\.cni\\.cncf\\.io/networks: .*ptp-conf.*net0`));
    assert.match(dry.stdout, new RegExp(`# --- pod ${ns}/multus-multi-net-poc \\(metadata\\.annotations\\)`));
    const piped = await tryKubectl(["apply", "--dry-run=server", "-f", "-"], { input: dry.stdout });
    assert.equal(piped.code, 0, `the dry run's output is a YAML stream kubectl applies (the NADs): ${piped.stderr}`);
    assert.match(piped.stdout, /networkattachmentdefinition\.k8s\.cni\.cncf\.io\/ptp-conf created \(server dry run\)/);
    assert.notEqual((await tryKubectl(["get", "net-attach-def", "ptp-conf", "-n", ns])).code, 0, "a dry run creates nothing");
    assert.equal((await annotations(ns, "deployment/web", ".spec.template.metadata.annotations"))["networks"], LEGACY, "nor patches anything");

    const applied = await multusctl(["migrate", "-n", ns, "--apply", "-o", "json"]);
    assert.equal(applied.code, 0, applied.stderr);
    const report = JSON.parse(applied.stdout) as { nads: { network: string; result: string }[]; workloads: { kind: string; name: string; result: string }[]; problems: string[] };
    assert.deepEqual(report.nads.map((n) => [n.network, n.result]).sort(), [[`${ns}/flannel-conf`, "created"], [`${ns}/ptp-conf`, "created"]]);
    assert.deepEqual(report.workloads.map((w) => [w.kind, w.name, w.result]).sort(), [["Deployment", "web", "patched"], ["Pod", "multus-multi-net-poc", "patched"]]);
    const config = JSON.parse(await kubectl(["get", "net-attach-def", "ptp-conf", "-n", ns, "-o", "jsonpath={.spec.config}"])) as Record<string, unknown>;
    assert.deepEqual(config, { name: "ptp", ipam: { type: "host-local", subnet: "10.168.1.0/24" }, type: "ptp" });
    for (const [what, path] of [["deployment/web", ".spec.template.metadata.annotations"], ["pod/multus-multi-net-poc", ".metadata.annotations"]] as const) {
      const a = await annotations(ns, what, path);
      assert.equal(a["networks"], undefined, `${what}: the legacy annotation is gone`);
      assert.equal(a["v1.multus-cni.io/default-network"], `${ns}/flannel-conf`);
      assert.deepEqual(JSON.parse(a["k8s.v1.cni.cncf.io/networks"] ?? "null"), [{ name: "ptp-conf", interface: "net0" }]);
    }

    const again = await multusctl(["migrate", "-n", ns, "--apply", "-o", "json"]);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as typeof report;
    assert.deepEqual(second.workloads, [], "nothing left to patch");
    assert.deepEqual(second.nads.map((n) => n.result), ["unchanged", "unchanged"], "identical NADs are left as they are");
  });

  test("a NAD of the same name with another config is not overwritten, its users are not changed, and the exit code is 1", async (t) => {
    const ns = await createNamespace(t);
    await seed(ns);
    await applyYaml(JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "ptp-conf", namespace: ns }, spec: { config: '{"cniVersion":"1.0.0","type":"macvlan"}' } }));
    const r = await multusctl(["migrate", "-n", ns, "--apply"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`# problem: NetworkAttachmentDefinition ${ns}/ptp-conf already exists with another config; it is not overwritten`));
    assert.match(await kubectl(["get", "net-attach-def", "ptp-conf", "-n", ns, "-o", "jsonpath={.spec.config}"]), /macvlan/);
    assert.equal((await annotations(ns, "deployment/web", ".spec.template.metadata.annotations"))["networks"], LEGACY, "the Deployment keeps its legacy annotation");
  });

  test("a pod whose controller migrate does not change (a Job's) is reported, not skipped in silence; a Deployment's pods are not", async (t) => {
    const ns = await createNamespace(t);
    await seed(ns);
    const owned = (name: string, kind: string, owner: string, apiVersion: string): object => ({
      apiVersion: "v1", kind: "Pod",
      metadata: { name, namespace: ns, annotations: { networks: LEGACY }, ownerReferences: [{ apiVersion, kind, name: owner, uid: "00000000-0000-0000-0000-000000000001", controller: true }] },
      spec: { nodeName: "nowhere", containers: [{ name: "c", image: "busybox:1.35.0" }] },
    });
    const rs = { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: { name: "web-1", namespace: ns, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "00000000-0000-0000-0000-000000000002", controller: true }] }, spec: { replicas: 0, selector: { matchLabels: { app: "legacy" } }, template: { metadata: { labels: { app: "legacy" }, annotations: { networks: LEGACY } }, spec: { containers: [{ name: "c", image: "busybox:1.35.0" }] } } } };
    await applyYaml(JSON.stringify({ apiVersion: "v1", kind: "List", items: [owned("nightly-x", "Job", "nightly", "batch/v1"), rs, owned("web-1-x", "ReplicaSet", "web-1", "apps/v1")] }));
    const r = await multusctl(["migrate", "-n", ns, "-o", "json"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { problems: string[]; workloads: { kind: string; name: string }[] };
    assert.deepEqual(report.problems, [`pod ${ns}/nightly-x carries the legacy networks annotation from its Job nightly, whose template migrate does not change (it patches Deployments, StatefulSets, DaemonSets and standalone pods): change that template the same way by hand`]);
    assert.deepEqual(report.workloads.map((w) => `${w.kind} ${w.name}`).sort(), ["Deployment web", "Pod multus-multi-net-poc"], "the Deployment's pod goes with its Deployment");
  });

  test("a workload naming a Network that does not exist is reported and left alone", async (t) => {
    const ns = await createNamespace(t);
    await seed(ns);
    await kubectl(["annotate", "pod", "multus-multi-net-poc", "-n", ns, "--overwrite", 'networks=[{"name":"flannel-conf"},{"name":"gone"}]']);
    const r = await multusctl(["migrate", "-n", ns]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`# problem: pod ${ns}/multus-multi-net-poc names Network ${ns}/gone, which does not exist`));
  });
});
