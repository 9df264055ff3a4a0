// AdmissionReview v1 decoding and answers (src/webhook/admission-review.ts), the admission decision
// with the real checks and a real Multus config (src/webhook/network-admission.ts), and the deadline
// the apiserver's `?timeout=` gives (src/webhook/webhook-server.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMultusConfig } from "../../src/multus/multus-config.ts";
import { admissionReviewResponse, boundWarnings, decodeAdmissionReview, WARNING_MAX_CHARS, type AdmissionRequest } from "../../src/webhook/admission-review.ts";
import { admitNetworkObject } from "../../src/webhook/network-admission.ts";
import { checkBudgetMs } from "../../src/webhook/webhook-server.ts";
import { MultusError } from "../../src/util/multus-error.ts";

const NAD_KIND = { group: "k8s.cni.cncf.io", version: "v1", kind: "NetworkAttachmentDefinition" };

function review(request: Record<string, unknown>): unknown {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "0df28fbd-5f5f-11e8-bc74-36e6bb280816", kind: NAD_KIND, operation: "CREATE", ...request } };
}

function nad(config: string, meta: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "net1", namespace: "tenant", ...meta }, spec: { config } };
}

const config = parseMultusConfig({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus", clusterNetwork: "x" }, "test");

function request(object: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { uid: "u", kind: NAD_KIND, operation: "CREATE", namespace: "tenant", name: "net1", object, oldObject: undefined, dryRun: false, ...extra };
}

describe("decodeAdmissionReview", () => {
  test("a v1 review: the fields the webhook reads", () => {
    const r = decodeAdmissionReview(review({ namespace: "tenant", name: "net1", object: nad("{}"), oldObject: null, dryRun: true }));
    assert.equal(r.uid, "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
    assert.deepEqual(r.kind, NAD_KIND);
    assert.equal(r.operation, "CREATE");
    assert.equal(r.oldObject, undefined);
    assert.equal(r.dryRun, true);
  });
  const bad: [string, unknown, RegExp][] = [
    ["v1beta1", { ...(review({}) as object), apiVersion: "admission.k8s.io/v1beta1" }, /field "apiVersion"/],
    ["no uid", review({ uid: "" }), /field "request.uid"/],
    ["an unknown operation", review({ operation: "PATCH" }), /field "request.operation"/],
    ["not an object", [], /\(top level\)|field/],
  ];
  for (const [what, json, message] of bad) {
    test(`refuses ${what}, naming the field`, () => {
      assert.throws(() => decodeAdmissionReview(json), (err: unknown) => err instanceof MultusError && err.errorCode === "MULTUS_ERR_WEBHOOK_REQUEST" && message.test(err.message));
    });
  }
});

describe("admissionReviewResponse", () => {
  test("allowed with warnings; refused with 422 Invalid and the message", () => {
    assert.deepEqual(admissionReviewResponse("u", { allowed: true, warnings: ["w1"] }), { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u", allowed: true, warnings: ["w1"] } });
    assert.deepEqual(admissionReviewResponse("u", { allowed: false, message: "spec.config: bad", warnings: [] }), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "u", allowed: false, status: { code: 422, reason: "Invalid", message: "spec.config: bad" } },
    });
  });
  test("warnings: one line each, at most 256 characters, deduplicated, 4096 in all with a note for the rest", () => {
    assert.deepEqual(boundWarnings(["a\nb", "a\nb", "", "c"]), ["a b", "c"]);
    const long = boundWarnings(["x".repeat(400)]);
    assert.equal((long[0] ?? "").length, WARNING_MAX_CHARS); // ASCII: characters are code points
    const many = boundWarnings(Array.from({ length: 40 }, (_, i) => `${i}:${"y".repeat(200)}`));
    assert.ok(many.join("").length <= 4096, String(many.join("").length));
    assert.match(many.at(-1) ?? "", /^\.\.\. and \d+ more: run multusctl validate/);
  });
});

describe("admitNetworkObject (the checks of multusctl validate)", () => {
  test("a JSON typo is refused naming spec.config", async () => {
    const v = await admitNetworkObject(request(nad('{"cniVersion":"1.0.0","type":"bridge",}')), config);
    assert.equal(v.allowed, false);
    assert.match(v.message ?? "", /spec\.config is not valid JSON.*MULTUS_ERR_NAD_CONFIG/);
  });
  test("Multus as the delegate is refused with the delegate policy's message", async () => {
    const v = await admitNetworkObject(request(nad('{"cniVersion":"1.0.0","name":"n","type":"multus-shim"}')), config);
    assert.equal(v.allowed, false);
    assert.match(v.message ?? "", /one of Multus's own programs.*MULTUS_ERR_DELEGATE_REFUSED/);
  });
  test("a good bridge is admitted without warnings; an unknown key is a warning", async () => {
    assert.deepEqual(await admitNetworkObject(request(nad('{"cniVersion":"1.0.0","name":"n","type":"bridge","bridge":"br0"}')), config), { allowed: true, warnings: [] });
    const w = await admitNetworkObject(request(nad('{"cniVersion":"1.0.0","name":"n","type":"bridge","bridgee":"br0"}')), config);
    assert.equal(w.allowed, true);
    assert.match(w.warnings[0] ?? "", /bridgee.*MULTUS_CHECK_UNKNOWN_FIELD/);
  });
  test("DELETE, other kinds, deletions and updates that keep the config are let through", async () => {
    const broken = nad("{");
    assert.equal((await admitNetworkObject(request(undefined, { operation: "DELETE", oldObject: broken }), config)).allowed, true);
    assert.equal((await admitNetworkObject(request(broken, { kind: { group: "", version: "v1", kind: "ConfigMap" } }), config)).allowed, true);
    const relabel = await admitNetworkObject(request(nad("{", { labels: { a: "b" } }), { operation: "UPDATE", oldObject: broken }), config);
    assert.equal(relabel.allowed, true);
    assert.match(relabel.warnings[0] ?? "", /^existing problem/);
    assert.equal((await admitNetworkObject(request(nad("{", { deletionTimestamp: "2026-12-07T00:00:00Z" }), { operation: "UPDATE", oldObject: nad('{"type":"bridge"}') }), config)).allowed, true);
    // An update that changes the config to a broken one is refused like a create.
    assert.equal((await admitNetworkObject(request(broken, { operation: "UPDATE", oldObject: nad('{"cniVersion":"1.0.0","name":"n","type":"bridge"}') }), config)).allowed, false);
  });
  test("legacy Network objects: checked with legacyNetworks on, let through with a warning when off", async () => {
    const kind = { group: "kubernetes.com", version: "v1", kind: "Network" };
    const network = { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "flannel-conf", namespace: "tenant" }, plugin: "multus", args: "[{}]" };
    const off = await admitNetworkObject(request(network, { kind }), config);
    assert.equal(off.allowed, true);
    assert.match(off.warnings[0] ?? "", /legacyNetworks is off/);
    const on = parseMultusConfig({ cniVersion: "1.0.0", name: "m", type: "multus", clusterNetwork: "x", legacyNetworks: true }, "test");
    const refused = await admitNetworkObject(request(network, { kind }), on);
    assert.equal(refused.allowed, false);
    assert.match(refused.message ?? "", /MULTUS_ERR_DELEGATE_REFUSED/);
  });
});

test("checkBudgetMs: the apiserver's ?timeout= less half a second, 9 s when absent", () => {
  assert.equal(checkBudgetMs("5s"), 4500);
  assert.equal(checkBudgetMs("30s"), 9000);
  assert.equal(checkBudgetMs("250ms"), 100);
  assert.equal(checkBudgetMs(null), 9000);
  assert.equal(checkBudgetMs("bogus"), 9000);
});
