// Typed resource helpers (src/k8s/resources.ts) and REST paths (src/k8s/api-path.ts): pod
// validation, static/mirror pods (multus#773), the network-status merge patch (NPWG-18) and event
// bodies, checked as the bytes a loopback API server receives.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { apiPath, describeResource, describeTarget, parseApiPath, rbacVerb } from "../../src/k8s/api-path.ts";
import { KubeClient } from "../../src/k8s/kube-client.ts";
import {
  createEvent,
  decodePod,
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
import { NETWORK_STATUS_ANNOTATION } from "../../src/k8s/annotations.ts";

const FULL_POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-0",
    namespace: "ns1",
    uid: "6f1c-uid",
    resourceVersion: "42",
    annotations: { "k8s.v1.cni.cncf.io/networks": "br-net" },
    labels: { app: "web" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "ss-uid", controller: true, blockOwnerDeletion: true }],
    managedFields: [{ manager: "kubectl" }],
  },
  spec: {
    nodeName: "node-1",
    containers: [{ name: "c", image: "pause" }],
    resourceClaims: [{ name: "nic", resourceClaimTemplateName: "sriov-nic" }],
  },
  status: { phase: "Pending", resourceClaimStatuses: [{ name: "nic", resourceClaimName: "web-0-nic-x7" }] },
};

describe("decodePod", () => {
  test("keeps the fields Multus uses and drops the rest", () => {
    const pod = decodePod(FULL_POD);
    assert.deepEqual(pod, {
      metadata: {
        name: "web-0",
        namespace: "ns1",
        uid: "6f1c-uid",
        resourceVersion: "42",
        annotations: { "k8s.v1.cni.cncf.io/networks": "br-net" },
        labels: { app: "web" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "ss-uid", controller: true }],
      },
      spec: { nodeName: "node-1", resourceClaims: [{ name: "nic", resourceClaimTemplateName: "sriov-nic" }] },
      status: { resourceClaimStatuses: [{ name: "nic", resourceClaimName: "web-0-nic-x7" }] },
    });
  });

  test("absent annotations/labels/spec/status become empty", () => {
    const pod = decodePod({ metadata: { name: "p", namespace: "n", uid: "u" } });
    assert.deepEqual(pod.metadata.annotations, {});
    assert.deepEqual(pod.metadata.labels, {});
    assert.deepEqual(pod.spec, {});
    assert.deepEqual(pod.status, {});
  });

  test("an invalid pod names the failing field", () => {
    assert.throws(() => decodePod({ metadata: { name: "p", namespace: "n" } }), /not a valid Pod: metadata\.uid: /);
    assert.throws(() => decodePod({ metadata: { name: "p", namespace: "n", uid: "u", annotations: { a: 1 } } }), /not a valid Pod: metadata\.annotations\.a: /);
    assert.throws(() => decodePod("pod"), /not a valid Pod: \(root\)/);
  });
});

describe("static and mirror pods (multus#773)", () => {
  const pod = (annotations: Record<string, string>, uid = "api-uid"): Pod => decodePod({ metadata: { name: "etcd-node-1", namespace: "kube-system", uid, annotations } });

  const table: { name: string; annotations: Record<string, string>; static: boolean; mirror: string | undefined; matches: Record<string, boolean> }[] = [
    { name: "API pod (no source annotation)", annotations: {}, static: false, mirror: undefined, matches: { "api-uid": true, hash1: false } },
    { name: "API pod (config.source=api)", annotations: { "kubernetes.io/config.source": "api" }, static: false, mirror: undefined, matches: { "api-uid": true } },
    {
      name: "mirror of a file static pod",
      annotations: { "kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": "hash1", "kubernetes.io/config.hash": "hash1" },
      static: true,
      mirror: "hash1",
      matches: { "api-uid": true, hash1: true, hash2: false },
    },
    { name: "http static pod without a mirror annotation", annotations: { "kubernetes.io/config.source": "http" }, static: true, mirror: undefined, matches: { hash1: false } },
  ];
  for (const tc of table) {
    test(tc.name, () => {
      const p = pod(tc.annotations);
      assert.equal(isStaticPod(p), tc.static);
      assert.equal(mirrorPodUid(p), tc.mirror);
      for (const [uid, expected] of Object.entries(tc.matches)) assert.equal(podUidMatches(p, uid), expected, `uid ${uid}`);
    });
  }
});

describe("api paths", () => {
  test("apiPath encodes names and parseApiPath reads them back", () => {
    const cases = [
      { parts: { version: "v1", namespace: "ns1", resource: "pods", name: "web-0", subresource: "status" }, path: "/api/v1/namespaces/ns1/pods/web-0/status" },
      { parts: { group: "k8s.cni.cncf.io", version: "v1", namespace: "ns1", resource: "network-attachment-definitions", name: "a b" }, path: "/apis/k8s.cni.cncf.io/v1/namespaces/ns1/network-attachment-definitions/a%20b" },
      { parts: { version: "v1", resource: "nodes", name: "node-1" }, path: "/api/v1/nodes/node-1" },
      { parts: { version: "v1", resource: "namespaces", name: "ns1" }, path: "/api/v1/namespaces/ns1" },
      { parts: { version: "v1", resource: "namespaces", name: "ns1", subresource: "status" }, path: "/api/v1/namespaces/ns1/status" },
      { parts: { version: "v1", namespace: "ns1", resource: "events" }, path: "/api/v1/namespaces/ns1/events" },
    ];
    for (const { parts, path } of cases) {
      assert.equal(apiPath(parts), path);
      assert.deepEqual(parseApiPath(`${path}?watch=true`), { group: "", ...parts });
    }
    assert.equal(podPath("ns1", "web-0", "status"), "/api/v1/namespaces/ns1/pods/web-0/status");
    assert.equal(nadPath("ns1"), "/apis/k8s.cni.cncf.io/v1/namespaces/ns1/network-attachment-definitions");
  });

  test("RBAC verbs and names for messages", () => {
    const pod = parseApiPath("/api/v1/namespaces/ns1/pods/web-0/status");
    const pods = parseApiPath("/api/v1/namespaces/ns1/pods");
    const nads = parseApiPath("/apis/k8s.cni.cncf.io/v1/network-attachment-definitions");
    assert.deepEqual(
      [rbacVerb("GET", pod), rbacVerb("GET", pods), rbacVerb("GET", pods, true), rbacVerb("POST", pods), rbacVerb("PUT", pod), rbacVerb("PATCH", pod), rbacVerb("DELETE", pod), rbacVerb("DELETE", pods)],
      ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
    );
    assert.equal(describeTarget(pod), "status of Pod ns1/web-0");
    assert.equal(describeTarget(pods), "Pods in namespace ns1");
    assert.equal(describeTarget(nads), "NetworkAttachmentDefinitions");
    assert.equal(describeResource(pod), "pods/status");
    assert.equal(describeResource(nads), "network-attachment-definitions.k8s.cni.cncf.io");
  });
});

interface Captured {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}

/** A loopback API server that records each request and answers with `reply(body)`. */
async function withServer(reply: (captured: Captured) => unknown, run: (client: KubeClient, seen: Captured[]) => Promise<void>): Promise<void> {
  const seen: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      const captured = { method: req.method ?? "", url: req.url ?? "", contentType: req.headers["content-type"], body: text === "" ? undefined : (JSON.parse(text) as unknown) };
      seen.push(captured);
      res.writeHead(captured.method === "POST" ? 201 : 200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(reply(captured)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new KubeClient({ server: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), insecureSkipTlsVerify: false, token: "t" });
  try {
    await run(client, seen);
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe("requests the helpers send", () => {
  test("getPod GETs the pod and validates it", async () => {
    await withServer(
      () => FULL_POD,
      async (client, seen) => {
        const pod = await getPod(client, "ns1", "web-0");
        assert.equal(pod.metadata.uid, "6f1c-uid");
        assert.deepEqual(seen.map((s) => [s.method, s.url]), [["GET", "/api/v1/namespaces/ns1/pods/web-0"]]);
      },
    );
  });

  test("patchPodNetworkStatus: one merge patch of pods/status setting the annotation, with the UID as precondition", async () => {
    const networkStatus = JSON.stringify([{ name: "ns1/br-net", interface: "net1", ips: ["10.1.0.5"], mac: "0a:58:0a:01:00:05", default: false }]);
    await withServer(
      (c) => ({ ...FULL_POD, metadata: { ...FULL_POD.metadata, annotations: { ...FULL_POD.metadata.annotations, ...((c.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations) } } }),
      async (client, seen) => {
        await patchPodNetworkStatus(client, { namespace: "ns1", name: "web-0", uid: "6f1c-uid" }, networkStatus);
        assert.equal(seen.length, 1, "no GET before, no PUT after");
        assert.deepEqual(seen[0], {
          method: "PATCH",
          url: "/api/v1/namespaces/ns1/pods/web-0/status",
          contentType: "application/merge-patch+json",
          body: { metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: networkStatus }, uid: "6f1c-uid" } },
        });
      },
    );
  });

  test("createEvent posts a core/v1 Event about the pod (with its UID) named <pod>.<16 hex>", async () => {
    await withServer(
      (c) => c.body,
      async (client, seen) => {
        const pod = decodePod(FULL_POD);
        const name = await createEvent(
          client,
          { involvedObject: podReference(pod), reason: "AddedInterface", message: "Add net1 [10.1.0.5/24] from ns1/br-net", type: "Normal", reportingComponent: "multus", reportingInstance: "node-1" },
          { now: () => new Date("2026-11-22T10:00:00.123Z") },
        );
        assert.match(name, /^web-0\.[0-9a-f]{16}$/);
        assert.equal(seen[0]?.method, "POST");
        assert.equal(seen[0].url, "/api/v1/namespaces/ns1/events");
        assert.deepEqual(seen[0].body, {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace: "ns1" },
          involvedObject: { kind: "Pod", apiVersion: "v1", namespace: "ns1", name: "web-0", uid: "6f1c-uid" },
          reason: "AddedInterface",
          message: "Add net1 [10.1.0.5/24] from ns1/br-net",
          type: "Normal",
          source: { component: "multus", host: "node-1" },
          reportingComponent: "multus",
          reportingInstance: "node-1",
          firstTimestamp: "2026-11-22T10:00:00Z",
          lastTimestamp: "2026-11-22T10:00:00Z",
          count: 1,
        });
        // Two events about the same pod never collide.
        const other = await createEvent(client, { involvedObject: podReference(pod), reason: "x", message: "y", type: "Warning", reportingComponent: "multus", reportingInstance: "node-1" });
        assert.notEqual(other, name);
      },
    );
  });

  test("event names stay valid DNS subdomains for a 253-character pod name; long messages are cut to 1 KiB", async () => {
    await withServer(
      (c) => c.body,
      async (client, seen) => {
        const podName = `${"a".repeat(230)}.${"b".repeat(22)}`;
        const name = await createEvent(client, {
          involvedObject: { namespace: "ns1", name: podName, uid: "u" },
          reason: "NoNetworkFound",
          message: "x".repeat(5000),
          type: "Warning",
          reportingComponent: "multus",
          reportingInstance: "node-1",
        });
        assert.ok(name.length <= 253, `${name.length}`);
        assert.match(name, /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.[0-9a-f]{16}$/);
        const body = seen[0]?.body as { message: string; involvedObject: { kind: string; name: string } };
        assert.equal(body.message.length, 1024);
        assert.equal(body.involvedObject.kind, "Pod");
        assert.equal(body.involvedObject.name, podName);
      },
    );
  });
});
