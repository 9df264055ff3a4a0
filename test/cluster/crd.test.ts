// deploy/crd/network-attachment-definition.yaml on a real kube-apiserver: names, the schema
// (what it accepts, rejects and prunes) and the printer columns.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as v from "valibot";
import { applyYaml, createNamespace, kubectl, repoRoot, tryKubectl, useCluster } from "./harness.ts";

useCluster();

const crdName = "network-attachment-definitions.k8s.cni.cncf.io";
const bridgeConfig = JSON.stringify({ cniVersion: "1.0.0", name: "br-test", type: "bridge", bridge: "mts-br0" });

function nadPath(namespace: string): string {
  return `/apis/k8s.cni.cncf.io/v1/namespaces/${namespace}/network-attachment-definitions`;
}

/** A raw POST, so the server's schema decides, not kubectl's client-side checks. */
function postNad(namespace: string, body: unknown, query = ""): ReturnType<typeof tryKubectl> {
  return tryKubectl(["create", "--raw", `${nadPath(namespace)}${query}`, "-f", "-"], { input: JSON.stringify(body) });
}

function nad(name: string, spec?: unknown): Record<string, unknown> {
  const object: Record<string, unknown> = { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name } };
  if (spec !== undefined) object["spec"] = spec;
  return object;
}

const crdSchema = v.object({
  spec: v.object({
    group: v.string(),
    scope: v.string(),
    names: v.object({
      kind: v.string(),
      plural: v.string(),
      singular: v.string(),
      shortNames: v.array(v.string()),
    }),
    versions: v.array(v.object({ name: v.string(), served: v.boolean(), storage: v.boolean() })),
  }),
  status: v.object({ conditions: v.array(v.object({ type: v.string(), status: v.string() })) }),
});
const nadSchema = v.object({
  metadata: v.object({ name: v.string() }),
  spec: v.optional(v.record(v.string(), v.unknown())),
});

describe("NetworkAttachmentDefinition CRD", () => {
  it("NPWG-01: is established as k8s.cni.cncf.io/v1, Namespaced, with kind, plural, singular and short names", async () => {
    // Applying again must be a no-op on the running cluster (cluster.sh up applied it already).
    await kubectl(["apply", "--server-side", "--field-manager=multus-ts-cluster", "-k", `${repoRoot}deploy/crd`]);
    const crd = v.parse(crdSchema, JSON.parse(await kubectl(["get", "crd", crdName, "-o", "json"])));
    assert.equal(crd.spec.group, "k8s.cni.cncf.io");
    assert.equal(crd.spec.scope, "Namespaced");
    assert.deepEqual(crd.spec.names, {
      kind: "NetworkAttachmentDefinition",
      plural: "network-attachment-definitions",
      singular: "network-attachment-definition",
      shortNames: ["net-attach-def", "nad"],
    });
    assert.deepEqual(crd.spec.versions, [{ name: "v1", served: true, storage: true }]);
    const established = crd.status.conditions.find((c) => c.type === "Established");
    assert.equal(established?.status, "True");
  });

  it("is listed by kubectl api-resources with its short names", async () => {
    const table = await kubectl(["api-resources", "--api-group=k8s.cni.cncf.io", "--no-headers"]);
    const row = table.split("\n").find((line) => line.startsWith("network-attachment-definitions "));
    assert.ok(row !== undefined, `not listed:\n${table}`);
    assert.deepEqual(row.trim().split(/\s+/), [
      "network-attachment-definitions",
      "net-attach-def,nad",
      "k8s.cni.cncf.io/v1",
      "true",
      "NetworkAttachmentDefinition",
    ]);
  });

  it("resolves the short names nad and net-attach-def and round-trips spec.config", async (t) => {
    const namespace = await createNamespace(t);
    await applyYaml(JSON.stringify(nad("br-test", { config: bridgeConfig })), { namespace });
    assert.equal((await kubectl(["get", "nad", "-o", "name"], { namespace })).trim(), "networkattachmentdefinition.k8s.cni.cncf.io/br-test");
    const config = await kubectl(["get", "net-attach-def/br-test", "-o", "jsonpath={.spec.config}"], { namespace });
    assert.equal(config, bridgeConfig);
  });

  it("NPWG-01: accepts an object without spec and a spec without config", async (t) => {
    const namespace = await createNamespace(t);
    const noSpec = await postNad(namespace, nad("no-spec"));
    assert.equal(noSpec.code, 0, noSpec.stderr);
    const emptySpec = await postNad(namespace, nad("empty-spec", {}));
    assert.equal(emptySpec.code, 0, emptySpec.stderr);
  });

  it("rejects spec.config that is not a string", async (t) => {
    const namespace = await createNamespace(t);
    const result = await postNad(namespace, nad("numeric-config", { config: 42 }));
    assert.notEqual(result.code, 0, "the server accepted spec.config: 42");
    assert.match(result.stderr, /spec\.config.*must be of type string/);
    const stored = await tryKubectl(["get", "nad", "numeric-config"], { namespace });
    assert.notEqual(stored.code, 0, "the invalid object was stored");
  });

  it("rejects spec.config longer than 262144 characters", async (t) => {
    const namespace = await createNamespace(t);
    const result = await postNad(namespace, nad("huge-config", { config: "x".repeat(262_145) }));
    assert.notEqual(result.code, 0, "the server accepted a 256 KiB + 1 config");
    assert.match(result.stderr, /spec\.config: Too long/);
  });

  it("rejects an unknown spec field under strict field validation (what kubectl apply uses)", async (t) => {
    const namespace = await createNamespace(t);
    const result = await postNad(namespace, nad("typo", { config: bridgeConfig, confg: "{}" }), "?fieldValidation=Strict");
    assert.notEqual(result.code, 0, "the server accepted spec.confg");
    assert.match(result.stderr, /unknown field "spec\.confg"/);
    const viaApply = await tryKubectl(["apply", "-f", "-"], {
      namespace,
      input: JSON.stringify(nad("typo-apply", { config: bridgeConfig, confg: "{}" })),
    });
    assert.notEqual(viaApply.code, 0, "kubectl apply accepted spec.confg");
    assert.match(viaApply.stderr, /unknown field "spec\.confg"/);
  });

  it("prunes an unknown spec field when the client does not ask for strict validation", async (t) => {
    const namespace = await createNamespace(t);
    const result = await postNad(namespace, nad("pruned", { config: bridgeConfig, extra: "dropped" }), "?fieldValidation=Ignore");
    assert.equal(result.code, 0, result.stderr);
    const stored = v.parse(nadSchema, JSON.parse(await kubectl(["get", "nad", "pruned", "-o", "json"], { namespace })));
    assert.deepEqual(stored.spec, { config: bridgeConfig });
  });

  it("prints the resourceName annotation and the age as columns", async (t) => {
    const namespace = await createNamespace(t);
    const object = nad("sriov-net", { config: bridgeConfig });
    object["metadata"] = { name: "sriov-net", annotations: { "k8s.v1.cni.cncf.io/resourceName": "example.com/sriov_a" } };
    await applyYaml(JSON.stringify(object), { namespace });
    const [header, row] = (await kubectl(["get", "nad", "sriov-net"], { namespace })).trim().split("\n");
    assert.deepEqual(header?.trim().split(/\s+/), ["NAME", "RESOURCE", "AGE"]);
    assert.match(row ?? "", /^sriov-net\s+example\.com\/sriov_a\s+\d+s$/);
  });
});
