// Namespace isolation (NPWG-27): pure, no I/O. The planner's use of it is tested in multus-pod-planner.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MultusError } from "../../src/util/multus-error.ts";
import { checkNamespaceIsolation } from "../../src/netattach/namespace-policy.ts";

const base = { podNamespace: "team-a", podRef: "team-a/web-0", globalNamespaces: ["default", "shared"], annotation: "k8s.v1.cni.cncf.io/networks" };

test("NPWG-27 with namespaceIsolation a NAD must be in the pod's namespace or a global one", () => {
  const allowed: [boolean, string][] = [
    [true, "team-a"],
    [true, "default"],
    [true, "shared"],
    [false, "team-b"], // isolation off: anything goes
  ];
  for (const [isolation, namespace] of allowed) {
    checkNamespaceIsolation({ ...base, isolation, network: { namespace, name: "net-a" } });
  }
});

test("NPWG-27 a disallowed NAD fails with MULTUS_ERR_NAMESPACE_ISOLATION naming pod, network and the allowed namespaces", () => {
  assert.throws(
    () => { checkNamespaceIsolation({ ...base, isolation: true, network: { namespace: "team-b", name: "net-a" } }); },
    (err: unknown) =>
      err instanceof MultusError &&
      err.errorCode === "MULTUS_ERR_NAMESPACE_ISOLATION" &&
      err.code === 7 &&
      err.message ===
        'pod team-a/web-0: k8s.v1.cni.cncf.io/networks names network team-b/net-a, in namespace "team-b", but namespaceIsolation lets this pod use networks only from "team-a", "default", "shared"; use a NetworkAttachmentDefinition in the pod\'s namespace or ask the cluster administrator to add "team-b" to globalNamespaces',
  );
  // No global namespaces at all: only the pod's own.
  assert.throws(
    () => { checkNamespaceIsolation({ ...base, globalNamespaces: [], isolation: true, network: { namespace: "default", name: "n" } }); },
    /only from "team-a";/,
  );
});
