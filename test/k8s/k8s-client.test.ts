// src/k8s against a REAL kube-apiserver + etcd (test/cluster/harness.ts): both credential kinds
// from real kubeconfigs, typed errors from real Status objects, the network-status merge patch
// through pods/status with the multus ServiceAccount (NPWG-18), events, RBAC denials, token
// rotation on disk (multus#852), and watches (ADDED/MODIFIED, field selectors, 410 Gone).
//
// Run: node --test --test-concurrency=1 --test-global-setup=test/cluster/global-setup.ts test/k8s/
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadKubeconfig } from "../../src/k8s/client-config.ts";
import type { ClientConfig } from "../../src/k8s/client-config.ts";
import { isForbidden, isGone, isNotFound } from "../../src/k8s/kube-api-error.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import type { WatchEvent } from "../../src/k8s/kube-client.ts";
import {
  createEvent,
  decodePod,
  getNetworkAttachmentDefinition,
  getPod,
  isStaticPod,
  mirrorPodUid,
  nadPath,
  patchPodNetworkStatus,
  podPath,
  podReference,
  podUidMatches,
} from "../../src/k8s/resources.ts";
import type { Pod } from "../../src/k8s/resources.ts";
import { applyYaml, createNamespace, kubectl, useCluster } from "../cluster/harness.ts";
import { NETWORK_STATUS_ANNOTATION } from "../../src/k8s/annotations.ts";
import { MultusError } from "../../src/util/multus-error.ts";

const cluster = useCluster();
const MULTUS_USER = "system:serviceaccount:kube-system:multus";

let adminConfig: ClientConfig;
let multusConfig: ClientConfig;
let admin: KubeClient;
let multus: KubeClient;
let dir = "";

before(async () => {
  adminConfig = await loadKubeconfig(cluster.adminKubeconfig);
  multusConfig = await loadKubeconfig(cluster.multusKubeconfig);
  admin = new KubeClient(adminConfig);
  multus = new KubeClient(multusConfig);
  dir = await mkdtemp(join(tmpdir(), "mt-k8s-it-"));
});
after(async () => {
  admin.close();
  multus.close();
  await rm(dir, { recursive: true, force: true });
});

/** A pod bound to a node no kubelet runs: it stays Pending, which is all these tests need. */
function podManifest(name: string, extra: { nodeName?: string; annotations?: Record<string, string>; labels?: Record<string, string> } = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, annotations: extra.annotations ?? {}, labels: extra.labels ?? {} },
    spec: { nodeName: extra.nodeName ?? "mts-no-such-node", containers: [{ name: "c", image: "registry.invalid/pause:1" }] },
  });
}

async function kubectlJson(args: string[], namespace: string): Promise<Record<string, unknown>> {
  return JSON.parse(await kubectl([...args, "-o", "json"], { namespace })) as Record<string, unknown>;
}

async function newToken(duration = "10m"): Promise<string> {
  return (await kubectl(["create", "token", "multus", "-n", "kube-system", `--duration=${duration}`])).trim();
}

describe("k8s client against a real kube-apiserver", () => {
  it("reads a pod created with kubectl, with the admin client certificate and with the multus token", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("web-0", { annotations: { "k8s.v1.cni.cncf.io/networks": "br-net@net1" }, labels: { app: "web" } }), { namespace });
    const uid = await kubectl(["get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}"], { namespace });
    assert.equal(adminConfig.cert !== undefined && adminConfig.token === undefined, true, "admin authenticates with a client certificate");
    assert.equal(multusConfig.token !== undefined && multusConfig.cert === undefined, true, "multus authenticates with a token");
    for (const client of [admin, multus]) {
      const pod = await getPod(client, namespace, "web-0");
      assert.equal(pod.metadata.uid, uid);
      assert.equal(pod.metadata.namespace, namespace);
      assert.equal(pod.metadata.annotations["k8s.v1.cni.cncf.io/networks"], "br-net@net1");
      assert.deepEqual(pod.metadata.labels, { app: "web" });
      assert.equal(pod.spec.nodeName, "mts-no-such-node");
    }
  });

  it("a missing pod or NAD is a typed NotFound with the catalogue code; an existing NAD comes back raw", async (t) => {
    const namespace = await createNamespace(t);
    await assert.rejects(getPod(multus, namespace, "ghost"), (err: unknown) => {
      assert.ok(isNotFound(err));
      assert.equal(err.errorCode, "MULTUS_ERR_POD_NOT_FOUND");
      assert.equal(err.httpStatus, 404);
      assert.equal(err.message, `get Pod ${namespace}/ghost: 404 NotFound: Pod ${namespace}/ghost does not exist`);
      return true;
    });
    await assert.rejects(getNetworkAttachmentDefinition(multus, namespace, "ghost-net"), (err: unknown) => {
      assert.ok(isNotFound(err));
      assert.equal(err.errorCode, "MULTUS_ERR_NAD_NOT_FOUND");
      assert.match(err.message, new RegExp(`^get NetworkAttachmentDefinition ${namespace}/ghost-net: 404 NotFound: .* does not exist: create it`));
      return true;
    });
    const config = JSON.stringify({ cniVersion: "1.0.0", name: "br-net", type: "bridge" });
    await applyYaml(JSON.stringify({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "br-net" }, spec: { config } }), { namespace });
    const nad = (await getNetworkAttachmentDefinition(multus, namespace, "br-net")) as { kind: string; spec: { config: string } };
    assert.equal(nad.kind, "NetworkAttachmentDefinition");
    assert.equal(nad.spec.config, config);
  });

  it("NPWG-18 merge-patches network-status through pods/status as multus; kubectl reads it back, other annotations and the spec untouched", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("web-0", { annotations: { "k8s.v1.cni.cncf.io/networks": "br-net", keep: "me" } }), { namespace });
    const before = await kubectlJson(["get", "pod", "web-0"], namespace);

    const uid = (before["metadata"] as { uid: string }).uid;
    const first = JSON.stringify([{ name: "cbr0", interface: "eth0", ips: ["10.244.0.5"], default: true }]);
    await patchPodNetworkStatus(multus, { namespace, name: "web-0", uid }, first);
    const patched = (await kubectlJson(["get", "pod", "web-0"], namespace))["metadata"] as { annotations: Record<string, string> };
    assert.equal(patched.annotations[NETWORK_STATUS_ANNOTATION], first);

    // Replacing the value (a second ADD, or a CHECK-driven refresh) is the same single patch.
    const second = JSON.stringify([
      { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"], default: true },
      { name: `${namespace}/br-net`, interface: "net1", ips: ["10.1.0.5"], mac: "0a:58:0a:01:00:05" },
    ]);
    await patchPodNetworkStatus(multus, { namespace, name: "web-0", uid }, second);
    const stored = await kubectl(["get", "pod", "web-0", "-o", "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}"], { namespace });
    assert.equal(stored, second);

    const afterPatch = await kubectlJson(["get", "pod", "web-0"], namespace);
    const annotations = (afterPatch["metadata"] as { annotations: Record<string, string> }).annotations;
    assert.equal(annotations["keep"], "me");
    assert.equal(annotations["k8s.v1.cni.cncf.io/networks"], "br-net");
    assert.deepEqual(afterPatch["spec"], before["spec"]);
    // The multus identity may not patch the pod object itself: pods/status is the only way in.
    await assert.rejects(multus.patch(podPath(namespace, "web-0"), { metadata: { labels: { x: "y" } } }, "merge"), (err: unknown) => {
      assert.ok(isForbidden(err));
      assert.match(err.message, new RegExp(`^patch Pod ${namespace}/web-0: 403 Forbidden: RBAC denies patch pods in namespace ${namespace} to ${MULTUS_USER}`));
      return true;
    });
  });


  it("NPWG-18 the status patch carries the pod's UID: a pod deleted and recreated under the same name is never annotated", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("web-1"), { namespace });
    const oldUid = (await kubectl(["get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}"], { namespace })).trim();
    await kubectl(["delete", "pod", "web-1", "--grace-period=0", "--force", "--wait=true"], { namespace });
    await applyYaml(podManifest("web-1"), { namespace });
    const newUid = (await kubectl(["get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}"], { namespace })).trim();
    assert.notEqual(oldUid, newUid);
    const status = JSON.stringify([{ name: "cbr0", interface: "eth0", ips: ["10.244.0.9"], default: true }]);
    await assert.rejects(patchPodNetworkStatus(multus, { namespace, name: "web-1", uid: oldUid }, status), (err: unknown) => {
      assert.ok(err instanceof MultusError);
      assert.equal(err.errorCode, "MULTUS_ERR_POD_NOT_FOUND");
      assert.match(err.message, new RegExp(`^pod ${namespace}/web-1 was deleted and recreated \\(the API's pod is not UID ${oldUid}\\); its network-status was not written$`));
      // What the API said: a merge patch may not change metadata.uid.
      assert.match((err.cause as Error).message, /422 Invalid: .*metadata\.uid: .*field is immutable/);
      return true;
    });
    const stored = await kubectl(["get", "pod", "web-1", "-o", "jsonpath={.metadata.annotations}"], { namespace });
    assert.doesNotMatch(stored, /network-status/, "the recreated pod keeps its annotations as they were");
    // With the current UID the same patch goes through.
    await patchPodNetworkStatus(multus, { namespace, name: "web-1", uid: newUid }, status);
  });
  it("creates an event as multus that kubectl get events and kubectl describe pod show", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("web-0"), { namespace });
    const pod = await getPod(multus, namespace, "web-0");
    const message = `Add net1 [10.1.0.5/24] from ${namespace}/br-net`;
    const name = await createEvent(multus, { involvedObject: podReference(pod), reason: "AddedInterface", message, type: "Normal", reportingComponent: "multus", reportingInstance: "node-1" });
    assert.match(name, /^web-0\.[0-9a-f]{16}$/);

    const event = await kubectlJson(["get", "event", name], namespace);
    assert.deepEqual(event["involvedObject"], { kind: "Pod", apiVersion: "v1", namespace, name: "web-0", uid: pod.metadata.uid });
    assert.equal(event["reason"], "AddedInterface");
    assert.equal(event["message"], message);
    assert.equal(event["type"], "Normal");
    assert.deepEqual(event["source"], { component: "multus", host: "node-1" });
    assert.equal(event["reportingComponent"], "multus");
    assert.equal(event["reportingInstance"], "node-1");
    assert.equal(event["count"], 1);

    const describe = await kubectl(["describe", "pod", "web-0"], { namespace });
    assert.match(describe, /Normal\s+AddedInterface\s+.*multus.*Add net1 \[10\.1\.0\.5\/24\]/);

    const warning = await createEvent(multus, { involvedObject: podReference(pod), reason: "NoNetworkFound", message: "cannot find a network-attachment-definition (ghost) in namespace " + namespace, type: "Warning", reportingComponent: "multus", reportingInstance: "node-1" });
    const warnings = await kubectl(["get", "events", "--field-selector", "type=Warning", "-o", "jsonpath={.items[*].metadata.name}"], { namespace });
    assert.equal(warnings, warning);
  });

  it("403 for a verb RBAC denies (delete pod as multus) is MULTUS_ERR_API_FORBIDDEN naming verb, resource, namespace and user", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("web-0"), { namespace });
    await assert.rejects(multus.delete(podPath(namespace, "web-0")), (err: unknown) => {
      assert.ok(isForbidden(err));
      assert.equal(err.errorCode, "MULTUS_ERR_API_FORBIDDEN");
      assert.equal(err.code, 101);
      assert.equal(err.httpStatus, 403);
      assert.equal(
        err.message,
        `delete Pod ${namespace}/web-0: 403 Forbidden: RBAC denies delete pods in namespace ${namespace} to ${MULTUS_USER}: apply deploy/rbac (ClusterRole multus) or grant the same rules`,
      );
      return true;
    });
    await kubectl(["get", "pod", "web-0"], { namespace }); // still there
    await assert.rejects(multus.get(`/api/v1/namespaces/${namespace}/secrets`), /RBAC denies list secrets in namespace .* to system:serviceaccount:kube-system:multus/);
  });

  it("401 for a rejected token names where the token came from", async () => {
    const tokenFile = join(dir, "garbage-token");
    await writeFile(tokenFile, "not-a-valid-token");
    const c = new KubeClient({ ...multusConfig, tokenFile });
    try {
      await assert.rejects(getPod(c, "default", "anything"), (err: unknown) => {
        assert.ok(isForbidden(err));
        assert.equal(err.httpStatus, 401);
        assert.match(err.message, new RegExp(`^get Pod default/anything: 401 Unauthorized: the token in ${tokenFile} was rejected even after re-reading the file: it may have expired`));
        return true;
      });
    } finally {
      c.close();
    }
  });

  it("multus#852: a token file rotated on disk is picked up by a long-lived client, with no restart", async () => {
    const tokenFile = join(dir, "rotating-token");
    await writeFile(tokenFile, await newToken());
    const c = new KubeClient({ ...multusConfig, tokenFile });
    try {
      await c.list(podPath("kube-system"));
      // The old token stops working (here: replaced by garbage, as if it expired)...
      await writeFile(tokenFile, "expired-token");
      await assert.rejects(c.list(podPath("kube-system")), (err: unknown) => isForbidden(err) && err.httpStatus === 401);
      // ...and the kubelet / multus-install writes a fresh one: the same client uses it.
      await writeFile(tokenFile, await newToken());
      const list = await c.list(podPath("kube-system"));
      assert.ok(list.resourceVersion !== "");
    } finally {
      c.close();
    }
  });

  it("multus#852: after a 401 the token file is re-read even when its stat looks unchanged (coarse mtime)", async () => {
    // A filesystem with 1 s mtimes can hide a same-size rewrite from the per-request stat; the
    // 401 path still finds the new token. Simulated: same inode, same size, mtime restored.
    const valid = await newToken();
    const bogus = "x".repeat(valid.length);
    const tokenFile = join(dir, "coarse-token");
    const when = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    await writeFile(tokenFile, bogus);
    await utimes(tokenFile, when, when);
    const c = new KubeClient({ ...multusConfig, token: bogus, tokenFile });
    try {
      await assert.rejects(c.list(podPath("kube-system")), (err: unknown) => isForbidden(err)); // caches the bogus token and its stat
      const before = await stat(tokenFile);
      await writeFile(tokenFile, valid);
      await utimes(tokenFile, when, when);
      const now = await stat(tokenFile);
      assert.deepEqual([now.ino, now.size, now.mtimeMs], [before.ino, before.size, before.mtimeMs], "stat must look unchanged for this test to mean anything");
      const list = await c.list(podPath("kube-system"));
      assert.ok(list.resourceVersion !== "");
    } finally {
      c.close();
    }
  });

  it("lists with a label selector and pages through `continue`", async (t) => {
    const namespace = await createNamespace(t);
    for (const name of ["a", "b", "c", "d"]) await applyYaml(podManifest(name, { labels: { app: name === "d" ? "other" : "web" } }), { namespace });
    let requests = 0;
    const count = (_fields: Record<string, unknown>, msg: string): void => {
      if (msg === "kube request") requests++;
    };
    const c = new KubeClient(multusConfig, { logger: { debug: count, info: count, warn: count, error: count } });
    try {
      const all = await c.list(podPath(namespace), { labelSelector: "app=web", limit: 1, decode: decodePod });
      assert.deepEqual(all.items.map((p) => p.metadata.name).sort(), ["a", "b", "c"]);
      assert.match(all.resourceVersion, /^\d+$/);
      assert.ok(requests >= 3, `one page per pod expected, got ${requests} request(s)`);
    } finally {
      c.close();
    }
  });

  it("watches pods in a namespace: ADDED then MODIFIED for kubectl's create and label; a field selector keeps to one node", async (t) => {
    const namespace = await createNamespace(t);
    const start = await multus.list(podPath(namespace));
    const ac = new AbortController();
    const deadline = setTimeout(() => {
      ac.abort();
    }, 30_000);
    const collect = async (fieldSelector?: string): Promise<WatchEvent<Pod>[]> => {
      const events: WatchEvent<Pod>[] = [];
      for await (const ev of multus.watch(podPath(namespace), { resourceVersion: start.resourceVersion, signal: ac.signal, decode: decodePod, ...(fieldSelector === undefined ? {} : { fieldSelector }) })) {
        if (ev.type === "BOOKMARK") continue;
        events.push(ev);
        // The label is the last change made to on-node-1, after on-node-2 was created.
        if (ev.type === "MODIFIED" && ev.object.metadata.name === "on-node-1") break;
      }
      return events;
    };
    const all = collect();
    const node1 = collect("spec.nodeName=node-1");
    try {
      await applyYaml(podManifest("on-node-1", { nodeName: "node-1" }), { namespace });
      await applyYaml(podManifest("on-node-2", { nodeName: "node-2" }), { namespace });
      await kubectl(["label", "pod", "on-node-1", "multus-ts.test/seen=yes"], { namespace });
      const [everything, onlyNode1] = await Promise.all([all, node1]);
      assert.ok(!ac.signal.aborted, "the watch saw the changes before its deadline");
      const names = (events: WatchEvent<Pod>[]): string[] => events.map((e) => (e.type === "BOOKMARK" ? "" : `${e.type}:${e.object.metadata.name}`));
      assert.deepEqual(names(everything), ["ADDED:on-node-1", "ADDED:on-node-2", "MODIFIED:on-node-1"]);
      assert.deepEqual(names(onlyNode1), ["ADDED:on-node-1", "MODIFIED:on-node-1"]);
      const modified = onlyNode1[1];
      assert.ok(modified !== undefined && modified.type === "MODIFIED");
      assert.equal(modified.object.metadata.labels["multus-ts.test/seen"], "yes");
      assert.ok(Number(modified.resourceVersion) > Number(start.resourceVersion));
    } finally {
      clearTimeout(deadline);
      ac.abort();
    }
  });

  it("a watch from a resourceVersion older than the API's window fails with the typed Gone error (re-list)", async () => {
    // The NAD watch cache starts when the CRD is established, far after resourceVersion 1.
    await assert.rejects(
      async () => {
        for await (const _ of multus.watch(nadPath("default"), { resourceVersion: "1", signal: AbortSignal.timeout(20_000) })) assert.fail("no event expected before the 410");
      },
      (err: unknown) => {
        assert.ok(isGone(err), String(err));
        assert.equal(err.httpStatus, 410);
        assert.equal(err.reason, "Expired");
        assert.match(err.message, /^watch NetworkAttachmentDefinitions in namespace default: 410 Expired: too old resource version: 1 \(\d+\): list again/);
        return true;
      },
    );
    // And the recovery the error asks for works: list, then watch from the list's version.
    const list = await multus.list(nadPath("default"));
    const ac = new AbortController();
    const t = setTimeout(() => {
      ac.abort();
    }, 1_000);
    for await (const _ of multus.watch(nadPath("default"), { resourceVersion: list.resourceVersion, signal: ac.signal })) break;
    clearTimeout(t);
  });

  it("multus#773: a pod with the kubelet's static-pod annotations (as its mirror in the API carries them) is recognised", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(podManifest("etcd-node-1", { annotations: { "kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": "0123abcd", "kubernetes.io/config.hash": "0123abcd" } }), { namespace });
    const pod = await getPod(multus, namespace, "etcd-node-1");
    assert.equal(isStaticPod(pod), true);
    assert.equal(mirrorPodUid(pod), "0123abcd");
    assert.ok(podUidMatches(pod, "0123abcd"), "the runtime's K8S_POD_UID for a static pod is its config.mirror hash");
    assert.ok(podUidMatches(pod, pod.metadata.uid));
    assert.ok(!podUidMatches(pod, "ffff0000"));
    const regular = await applyYaml(podManifest("plain"), { namespace }).then(() => getPod(multus, namespace, "plain"));
    assert.equal(isStaticPod(regular), false);
  });
});
