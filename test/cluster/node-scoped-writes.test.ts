// deploy/admission (the node-scoped-writes ValidatingAdmissionPolicy) on the real kube-apiserver:
// the multus ServiceAccount's token bound to a pod on node A — what the daemon's projected token and
// the thin kubeconfig both are — against pods on nodes A and B. Real: kube-apiserver v1.35 with its
// admission chain and token issuer, kubectl, the RBAC we ship (deploy/rbac), and Multus's own API
// client and network-status patch (src/k8s) for the write Multus makes. The policy is cluster-wide, so
// this file removes it when it ends: the other suites run with a token bound to no pod.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadKubeconfig } from "../../src/k8s/client-config.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import { createEvent, patchPodNetworkStatus } from "../../src/k8s/resources.ts";
import { applyYaml, kubectl, repoRoot, tryKubectl, uniqueName, useCluster, type KubectlOptions } from "./harness.ts";

const cluster = useCluster();
const ns = uniqueName("mts-nsw");
const nodeA = uniqueName("mts-node-a");
const nodeB = uniqueName("mts-node-b");
const boundPod = uniqueName("multus-a");
let dir: string;
let asNodeA: string;
let unbound: string;
const uids = new Map<string, string>();

/** A kubeconfig for the API server with `token` (the cluster's CA and server). */
async function kubeconfigWith(token: string, name: string): Promise<string> {
  const base = await readFile(cluster.multusKubeconfig, "utf8");
  const path = join(dir, name);
  await writeFile(path, base.replace(/token: \S+/, `token: ${token}`), { mode: 0o600 });
  return path;
}

const podYaml = (name: string, node: string, extra = ""): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { app: web }, annotations: { note: original } }
spec:
  nodeName: ${node}
  containers: [{ name: c, image: registry.invalid/pause:1 }]
${extra}`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-nsw-"));
  await kubectl(["apply", "-k", join(repoRoot, "deploy", "admission")]);
  await applyYaml([nodeA, nodeB].map((n) => `apiVersion: v1\nkind: Node\nmetadata: { name: ${n} }\n`).join("---\n"));
  await kubectl(["create", "namespace", ns]);
  await kubectl(["create", "serviceaccount", "default", "-n", ns]).catch(() => undefined);
  await applyYaml(podYaml("on-a", nodeA) + "---\n" + podYaml("on-b", nodeB));
  // The Multus pod the token is bound to, as the kubelet's projected token is: kube-system, the multus
  // ServiceAccount, on node A.
  await applyYaml(`
apiVersion: v1
kind: Pod
metadata: { name: ${boundPod}, namespace: kube-system }
spec:
  nodeName: ${nodeA}
  serviceAccountName: multus
  containers: [{ name: c, image: registry.invalid/pause:1 }]
`);
  for (const [n, space] of [["on-a", ns], ["on-b", ns], [boundPod, "kube-system"]] as const) {
    uids.set(n, (await kubectl(["get", "pod", "-n", space, n, "-o", "jsonpath={.metadata.uid}"])).trim());
  }
  const token = (await kubectl(["create", "token", "multus", "-n", "kube-system", "--bound-object-kind", "Pod", "--bound-object-name", boundPod, "--duration", "10m"])).trim();
  asNodeA = await kubeconfigWith(token, "node-a.kubeconfig");
  unbound = await kubeconfigWith((await kubectl(["create", "token", "multus", "-n", "kube-system", "--duration", "10m"])).trim(), "unbound.kubeconfig");
  // The token as the API server reads it: the node is in the user's extra.
  const who = JSON.parse(await kubectl(["auth", "whoami", "-o", "json"], { kubeconfig: asNodeA })) as { status: { userInfo: { extra?: Record<string, string[]> } } };
  assert.deepEqual(who.status.userInfo.extra?.["authentication.kubernetes.io/node-name"], [nodeA], "the bound token carries node A");
});

after(async () => {
  await tryKubectl(["delete", "-k", join(repoRoot, "deploy", "admission"), "--ignore-not-found"]);
  await tryKubectl(["delete", "pod", "-n", "kube-system", boundPod, "--grace-period=0", "--force", "--ignore-not-found"]);
  await tryKubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
  await tryKubectl(["delete", "node", nodeA, nodeB, "--ignore-not-found"]);
  await rm(dir, { recursive: true, force: true });
});

const as = (kubeconfig: string): KubectlOptions => ({ kubeconfig, namespace: ns });
const statusPatch = (pod: string, patch: unknown, kubeconfig: string) => tryKubectl(["patch", "pod", pod, "--subresource=status", "--type=merge", "-p", JSON.stringify(patch)], as(kubeconfig));
const NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status";

async function refused(result: Promise<{ code: number; stderr: string }>, message: RegExp): Promise<void> {
  const r = await result;
  assert.notEqual(r.code, 0, "refused");
  assert.match(r.stderr, /ValidatingAdmissionPolicy 'multus-node-scoped-writes' with binding 'multus-node-scoped-writes' denied request/);
  assert.match(r.stderr, message);
}

describe("node-scoped writes: the multus identity of node A on the real kube-apiserver", () => {
  test("Multus's own network-status patch (src/k8s) of a pod on node A is admitted", async () => {
    const client = new KubeClient(await loadKubeconfig(asNodeA), { userAgent: "multus-ts-test" });
    try {
      await patchPodNetworkStatus(client, { namespace: ns, name: "on-a", uid: uids.get("on-a") ?? "" }, JSON.stringify([{ name: "cluster", interface: "eth0", default: true }]));
    } finally {
      client.close();
    }
    const written = await kubectl(["get", "pod", "on-a", "-o", `jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}`], as(cluster.adminKubeconfig));
    assert.deepEqual(JSON.parse(written), [{ name: "cluster", interface: "eth0", default: true }]);
    assert.equal((await statusPatch("on-a", { metadata: { annotations: { [NETWORK_STATUS]: "[]" } } }, asNodeA)).code, 0, "and kubectl's");
  });

  test("the same patch of a pod on node B is refused, naming both nodes (Multus's client reports it as forbidden)", async () => {
    await refused(statusPatch("on-b", { metadata: { annotations: { [NETWORK_STATUS]: "[]" } } }, asNodeA), new RegExp(`multus of node ${nodeA} may write only pods on that node; pod ${ns}/on-b is on ${nodeB}`));
    const client = new KubeClient(await loadKubeconfig(asNodeA), { userAgent: "multus-ts-test" });
    try {
      await assert.rejects(patchPodNetworkStatus(client, { namespace: ns, name: "on-b", uid: uids.get("on-b") ?? "" }, "[]"), (err: unknown) => {
        assert.match((err as Error).message, /may write only pods on that node/);
        assert.equal((err as { details?: string }).details, "MULTUS_ERR_API_FORBIDDEN");
        return true;
      });
    } finally {
      client.close();
    }
  });

  test("a label (a Service's selector), another annotation, a status condition or a finalizer of a pod on node A: refused", async () => {
    await refused(statusPatch("on-a", { metadata: { labels: { app: "hijacked" } } }, asNodeA), /may not change a pod's labels/);
    await refused(statusPatch("on-a", { metadata: { annotations: { note: "forged" } } }, asNodeA), /may change only the k8s\.v1\.cni\.cncf\.io\/network-status annotation/);
    await refused(statusPatch("on-a", { metadata: { annotations: { note: null } } }, asNodeA), /may change only the k8s\.v1\.cni\.cncf\.io\/network-status annotation/);
    await refused(statusPatch("on-a", { status: { conditions: [{ type: "Ready", status: "True" }] } }, asNodeA), /may not change a pod's status/);
    await refused(statusPatch("on-a", { metadata: { finalizers: ["example.com/keep"] } }, asNodeA), /may not change a pod's finalizers/);
    const labels = await kubectl(["get", "pod", "on-a", "-o", "jsonpath={.metadata.labels.app} {.metadata.annotations.note}"], as(cluster.adminKubeconfig));
    assert.equal(labels, "web original");
  });

  test("a whole-object PUT of pods/status (Go Multus's GET + PUT) is held to the same rules as a patch", async () => {
    // A raw PUT of the object as read: `kubectl replace` would also rewrite kubectl's own
    // last-applied annotation, which the policy rightly refuses too.
    const put = (pod: unknown) => tryKubectl(["replace", "--raw", `/api/v1/namespaces/${ns}/pods/on-a/status`, "-f", "-"], { kubeconfig: asNodeA, input: JSON.stringify(pod) });
    const read = async () => JSON.parse(await kubectl(["get", "pod", "on-a", "-o", "json"], as(cluster.adminKubeconfig))) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    const pod = await read();
    pod.metadata.annotations[NETWORK_STATUS] = '[{"name":"put","default":true}]';
    const ok = await put(pod);
    assert.equal(ok.code, 0, `network-status alone: admitted (${ok.stderr})`);
    const again = await read();
    again.metadata.labels["app"] = "hijacked";
    await refused(put(again), /may not change a pod's labels/);
  });

  test("events.k8s.io/v1 writes are held to the core rules (the policy matches them as equivalent)", async () => {
    const event = (instance: string): string => JSON.stringify({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: uniqueName("on-a"), namespace: ns },
      eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
      action: "Attach",
      reason: "AddedInterface",
      note: "Add net1",
      type: "Normal",
      regarding: { kind: "Pod", namespace: ns, name: "on-a", uid: uids.get("on-a") },
      reportingController: "multus",
      reportingInstance: instance,
    });
    assert.equal((await tryKubectl(["create", "-f", "-"], { kubeconfig: asNodeA, input: event(nodeA) })).code, 0);
    await refused(tryKubectl(["create", "-f", "-"], { kubeconfig: asNodeA, input: event(nodeB) }), /may record only its own events/);
  });

  test("events: Multus's own about a pod, reported from node A, are admitted; from another node, or another reason, refused", async () => {
    const client = new KubeClient(await loadKubeconfig(asNodeA), { userAgent: "multus-ts-test" });
    const ref = { namespace: ns, name: "on-a", uid: uids.get("on-a") ?? "" };
    try {
      await createEvent(client, { involvedObject: ref, reason: "AddedInterface", message: "Add net1", type: "Normal", reportingComponent: "multus", reportingInstance: nodeA });
      await assert.rejects(createEvent(client, { involvedObject: ref, reason: "AddedInterface", message: "x", type: "Normal", reportingComponent: "multus", reportingInstance: nodeB }), /may record only its own events/);
      await assert.rejects(createEvent(client, { involvedObject: ref, reason: "Killing", message: "x", type: "Warning", reportingComponent: "multus", reportingInstance: nodeA }), /may record only its own events/);
    } finally {
      client.close();
    }
  });

  test("a token bound to no node (a legacy or hand-made token) may write nothing: fail closed", async () => {
    await refused(statusPatch("on-a", { metadata: { annotations: { [NETWORK_STATUS]: "[]" } } }, unbound), /this multus token is not bound to a node/);
  });

  test("the moved-config install may create only a NAD without a config of its own", async () => {
    await kubectl(["apply", "-f", join(repoRoot, "deploy", "moved-config", "role.yaml")]);
    try {
      const nad = (name: string, config?: string): string => JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name, namespace: "kube-system" }, ...(config === undefined ? {} : { spec: { config } }) });
      const configless = uniqueName("mts-nsw-moved");
      assert.equal((await tryKubectl(["create", "-f", "-"], { kubeconfig: asNodeA, input: nad(configless) })).code, 0);
      await kubectl(["delete", "net-attach-def", "-n", "kube-system", configless]);
      await refused(tryKubectl(["create", "-f", "-"], { kubeconfig: asNodeA, input: nad(uniqueName("mts-nsw-cfg"), '{"cniVersion":"1.0.0","type":"bridge"}') }), /may only create NetworkAttachmentDefinitions without a config of their own/);
    } finally {
      await tryKubectl(["delete", "-f", join(repoRoot, "deploy", "moved-config", "role.yaml"), "--ignore-not-found"]);
    }
  });
});
