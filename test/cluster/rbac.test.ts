// deploy/rbac/ on a real kube-apiserver with --authorization-mode=Node,RBAC, exercised with the
// multus ServiceAccount's own token: first what the authorizer answers (kubectl auth can-i), then
// real requests, so a mistake in either the RBAC or the token shows up.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import { applyYaml, createNamespace, kubectl, tryKubectl, useCluster } from "./harness.ts";
import type { KubectlOptions } from "./harness.ts";

const cluster = useCluster();
const asMultus = (options: KubectlOptions = {}): KubectlOptions => ({ ...options, kubeconfig: cluster.multusKubeconfig });

const nadResource = "network-attachment-definitions.k8s.cni.cncf.io";

interface Permission {
  readonly verb: string;
  readonly resource: string;
  readonly subresource?: string;
}

const allowed: readonly Permission[] = [
  ...["get", "list", "watch"].map((verb) => ({ verb, resource: nadResource })),
  ...["get", "list", "watch"].map((verb) => ({ verb, resource: "pods" })),
  ...["get", "patch", "update"].map((verb) => ({ verb, resource: "pods", subresource: "status" })),
  { verb: "create", resource: "events" },
  { verb: "create", resource: "events.events.k8s.io" },
  ...["get", "list", "watch"].map((verb) => ({ verb, resource: "resourceclaims.resource.k8s.io" })),
  ...["get", "list", "watch"].map((verb) => ({ verb, resource: "resourceslices.resource.k8s.io" })),
];

const denied: readonly Permission[] = [
  // NADs are read-only for the data path.
  ...["create", "update", "patch", "delete", "deletecollection"].map((verb) => ({ verb, resource: nadResource })),
  // Pods: no writes to the pod object itself, no deletes, no exec.
  ...["create", "update", "patch", "delete", "deletecollection"].map((verb) => ({ verb, resource: "pods" })),
  { verb: "create", resource: "pods", subresource: "exec" },
  { verb: "create", resource: "pods", subresource: "eviction" },
  // No secrets, no config, no nodes.
  ...["get", "list", "watch"].map((verb) => ({ verb, resource: "secrets" })),
  { verb: "list", resource: "configmaps" },
  { verb: "patch", resource: "nodes" },
  // Events are created, never changed or deleted (a node's token must not rewrite another component's);
  // DRA objects are read, never written.
  ...["patch", "update", "delete"].map((verb) => ({ verb, resource: "events" })),
  ...["patch", "update"].map((verb) => ({ verb, resource: "events.events.k8s.io" })),
  { verb: "update", resource: "resourceclaims.resource.k8s.io", subresource: "status" },
  { verb: "create", resource: "resourceslices.resource.k8s.io" },
  { verb: "delete", resource: "resourceclaims.resource.k8s.io" },
  { verb: "escalate", resource: "clusterroles.rbac.authorization.k8s.io" },
];

function describePermission(p: Permission): string {
  return `${p.verb} ${p.resource}${p.subresource === undefined ? "" : `/${p.subresource}`}`;
}

async function canI(p: Permission): Promise<string> {
  const subresource = p.subresource === undefined ? [] : [`--subresource=${p.subresource}`];
  const result = await tryKubectl(["auth", "can-i", p.verb, p.resource, ...subresource], asMultus({ namespace: "default" }));
  // Exit 0 = yes, 1 = no; anything else (or other output) is a broken request, not an answer.
  assert.ok(result.code === 0 || result.code === 1, `can-i ${describePermission(p)} failed: ${result.stderr}`);
  return result.stdout.trim();
}

function pod(name: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    // Bound to a node no kubelet runs: the pod stays Pending, which is all these tests need.
    spec: { nodeName: "mts-no-such-node", containers: [{ name: "c", image: "registry.invalid/pause:1" }] },
  });
}

function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const ruleSchema = v.object({
  apiGroups: v.optional(v.array(v.string()), []),
  resources: v.optional(v.array(v.string()), []),
  verbs: v.array(v.string()),
  nonResourceURLs: v.optional(v.array(v.string())),
  resourceNames: v.optional(v.array(v.string())),
});
const clusterRoleSchema = v.object({ rules: v.array(ruleSchema) });

describe("multus RBAC (ServiceAccount kube-system/multus)", () => {
  describe("kubectl auth can-i with the multus token says yes", () => {
    for (const permission of allowed) {
      it(describePermission(permission), async () => {
        assert.equal(await canI(permission), "yes");
      });
    }
  });

  describe("kubectl auth can-i with the multus token says no", () => {
    for (const permission of denied) {
      it(describePermission(permission), async () => {
        assert.equal(await canI(permission), "no");
      });
    }
  });

  it("the ClusterRole has no wildcards, no resourceNames and no non-resource URLs", async () => {
    const role = v.parse(clusterRoleSchema, JSON.parse(await kubectl(["get", "clusterrole", "multus", "-o", "json"])));
    assert.ok(role.rules.length > 0);
    for (const rule of role.rules) {
      for (const value of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) assert.notEqual(value, "*", JSON.stringify(rule));
      assert.equal(rule.nonResourceURLs, undefined);
      assert.equal(rule.resourceNames, undefined);
    }
  });

  it("lists NADs in every namespace but cannot create one", async (t) => {
    const namespace = await createNamespace(t);
    await kubectl(["get", "nad", "--all-namespaces"], asMultus());
    const create = await tryKubectl(["create", "-f", "-"], asMultus({
      namespace,
      input: JSON.stringify({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "sneaky" },
        spec: { config: "{}" },
      }),
    }));
    assert.notEqual(create.code, 0);
    assert.match(create.stderr, /forbidden: User "system:serviceaccount:kube-system:multus" cannot create resource "network-attachment-definitions"/);
  });

  it("writes the network-status annotation through pods/status but cannot patch, delete or exec the pod", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(pod("target"), { namespace });
    const status = JSON.stringify([{ name: "default/br-test", interface: "net1", ips: ["10.1.0.5"], default: false }]);
    const patch = JSON.stringify({ metadata: { annotations: { "k8s.v1.cni.cncf.io/network-status": status } } });
    await kubectl(["patch", "pod", "target", "--subresource=status", "--type=merge", "-p", patch], asMultus({ namespace }));
    const stored = await kubectl(["get", "pod", "target", "-o", "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}"], { namespace });
    assert.equal(stored, status);

    const patchPod = await tryKubectl(["patch", "pod", "target", "--type=merge", "-p", patch], asMultus({ namespace }));
    assert.match(patchPod.stderr, /forbidden: .* cannot patch resource "pods"/);
    const deletePod = await tryKubectl(["delete", "pod", "target", "--wait=false"], asMultus({ namespace }));
    assert.match(deletePod.stderr, /forbidden: .* cannot delete resource "pods"/);
    await kubectl(["get", "pod", "target"], { namespace });
  });

  it("creates events through both the core and the events.k8s.io API", async (t) => {
    const namespace = await createNamespace(t);
    const regarding = { kind: "Pod", name: "target", namespace, apiVersion: "v1" };
    await kubectl(["create", "-f", "-"], asMultus({
      namespace,
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "target.core" },
        involvedObject: regarding,
        reason: "AddedInterface",
        message: "Add net1 [10.1.0.5/24] from default/br-test",
        type: "Normal",
        source: { component: "multus" },
      }),
    }));
    await kubectl(["create", "-f", "-"], asMultus({
      namespace,
      input: JSON.stringify({
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: "target.events" },
        eventTime: microTime(new Date()),
        reportingController: "k8s.cni.cncf.io/multus",
        reportingInstance: "multus-mts-no-such-node",
        action: "Attach",
        reason: "AddedInterface",
        regarding,
        note: "Add net1 [10.1.0.5/24] from default/br-test",
        type: "Normal",
      }),
    }));
    const names = (await kubectl(["get", "events", "-o", "name"], { namespace })).trim().split("\n").sort();
    assert.deepEqual(names, ["event/target.core", "event/target.events"]);
  });

  it("cannot read a secret", async (t) => {
    const namespace = await createNamespace(t);
    await kubectl(["create", "secret", "generic", "creds", "--from-literal=password=hunter2"], { namespace });
    const get = await tryKubectl(["get", "secret", "creds", "-o", "json"], asMultus({ namespace }));
    assert.notEqual(get.code, 0);
    assert.match(get.stderr, /forbidden: .* cannot get resource "secrets"/);
    assert.doesNotMatch(get.stdout, /aHVudGVyMg|hunter2/);
  });

  it("reads resourceclaims and resourceslices (DRA v1)", async (t) => {
    const namespace = await createNamespace(t);
    await kubectl(["get", "resourceslices.resource.k8s.io"], asMultus());
    await kubectl(["get", "resourceclaims.resource.k8s.io"], asMultus({ namespace }));
  });
});
