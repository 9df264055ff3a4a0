// What the daemon's informers keep of each object (src/daemon/cached-pod-api.ts): of a pod, the fields
// the engine reads and only the annotations it reads; of a NAD, its config and the resourceName
// annotation. Every other annotation (a tenant's may be 256 KiB each) and the labels are dropped, so
// the caches' size does not depend on what tenants write there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cachedPod, stripNad } from "../../src/daemon/cached-pod-api.ts";
import { CONFIG_MIRROR_ANNOTATION, CONFIG_SOURCE_ANNOTATION, DEFAULT_NETWORK_ANNOTATION, NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION, RESOURCE_NAME_ANNOTATION } from "../../src/k8s/annotations.ts";

const big = "x".repeat(256 * 1024);

test("a cached pod keeps the annotations the engine reads, not the others, nor the labels", () => {
  const pod = cachedPod({
    metadata: {
      name: "web",
      namespace: "ns1",
      uid: "u1",
      resourceVersion: "7",
      labels: { app: "web" },
      managedFields: [{ manager: "kubectl" }],
      annotations: {
        [NETWORKS_ANNOTATION]: "br-net",
        [DEFAULT_NETWORK_ANNOTATION]: "ns1/other",
        [CONFIG_SOURCE_ANNOTATION]: "file",
        [CONFIG_MIRROR_ANNOTATION]: "u0",
        [NETWORK_STATUS_ANNOTATION]: "[]",
        "kubectl.kubernetes.io/last-applied-configuration": big,
        "tenant.example.com/blob": big,
      },
    },
    spec: { nodeName: "node-1", containers: [{ name: "c", image: "busybox" }], resourceClaims: [{ name: "vf", resourceClaimName: "claim-1" }] },
    status: { phase: "Running", resourceClaimStatuses: [{ name: "vf", resourceClaimName: "claim-1" }] },
  });
  assert.deepEqual(pod, {
    metadata: {
      name: "web",
      namespace: "ns1",
      uid: "u1",
      resourceVersion: "7",
      labels: {},
      annotations: { [NETWORKS_ANNOTATION]: "br-net", [DEFAULT_NETWORK_ANNOTATION]: "ns1/other", [CONFIG_SOURCE_ANNOTATION]: "file", [CONFIG_MIRROR_ANNOTATION]: "u0" },
    },
    spec: { nodeName: "node-1", resourceClaims: [{ name: "vf", resourceClaimName: "claim-1" }] },
    status: { resourceClaimStatuses: [{ name: "vf", resourceClaimName: "claim-1" }] },
  });
});

test("a cached NAD keeps its config and resourceName, not its other annotations; malformed annotations still reach the NAD decoder", () => {
  const nad = stripNad({
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name: "sriov", namespace: "ns1", uid: "u2", resourceVersion: "3", labels: { a: "b" }, annotations: { [RESOURCE_NAME_ANNOTATION]: "intel.com/sriov", "tenant.example.com/blob": big } },
    spec: { config: '{"cniVersion":"1.0.0","type":"sriov"}' },
  });
  assert.deepEqual(nad, {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: { name: "sriov", namespace: "ns1", uid: "u2", resourceVersion: "3", annotations: { [RESOURCE_NAME_ANNOTATION]: "intel.com/sriov" } },
    spec: { config: '{"cniVersion":"1.0.0","type":"sriov"}' },
  });
  const odd = stripNad({ metadata: { name: "n", namespace: "ns1", annotations: { [RESOURCE_NAME_ANNOTATION]: 7 } }, spec: {} }) as { metadata: { annotations: unknown } };
  assert.deepEqual(odd.metadata.annotations, { [RESOURCE_NAME_ANNOTATION]: 7 }, "left for decodeNad to refuse with its own message");
});
