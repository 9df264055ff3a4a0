// The node a pod-bound ServiceAccount token names (tokenNodeName): thin multus reports its events from
// it (the node-scoped-writes policy checks an event's reportingInstance against the token's node).
// The tokens' shape is the API server's (test/cluster/node-scoped-writes.test.ts uses real ones).
import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenNodeName } from "../../src/k8s/bearer-token.ts";

const jwt = (claims: unknown): string => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

test("a pod-bound token's kubernetes.io.node.name; nothing for a token without one, or for what is not a JWT", () => {
  assert.equal(tokenNodeName(jwt({ sub: "system:serviceaccount:kube-system:multus", "kubernetes.io": { namespace: "kube-system", node: { name: "worker-2", uid: "u" }, pod: { name: "multus-x" } } })), "worker-2");
  assert.equal(tokenNodeName(jwt({ "kubernetes.io": { namespace: "kube-system", serviceaccount: { name: "multus" } } })), undefined);
  for (const t of [undefined, "", "not-a-jwt", "a.%%%.c", `a.${"x".repeat(20_000)}.c`, jwt("string"), jwt({ "kubernetes.io": { node: { name: 7 } } })]) assert.equal(tokenNodeName(t), undefined, String(t).slice(0, 20));
});
