// Multus v1's legacy Network objects and `networks` annotation (src/netattach/legacy-network.ts), as
// the planner reads them: decoding, the config body a Network stands for, the gate, the annotation.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultDelegatePolicy } from "../../src/cni/delegate-config.ts";
import {
  decodeLegacyNetwork,
  delegateConfigFromLegacyNetwork,
  legacyNetworkConfig,
  parseLegacyNetworksAnnotation,
} from "../../src/netattach/legacy-network.ts";

const object = (extra: Record<string, unknown>): unknown => ({ apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "ptp-conf", namespace: "team-a" }, ...extra });

describe("legacy Network objects", () => {
  test("seed 003's ptp-conf: args' first element is the body, plugin its type, the object's name its name", () => {
    const net = decodeLegacyNetwork(object({ plugin: "ptp", args: '[ { "ipam": { "type": "host-local", "subnet": "10.168.1.0/24" } } ]' }));
    assert.deepEqual(legacyNetworkConfig(net), { ipam: { type: "host-local", subnet: "10.168.1.0/24" }, type: "ptp", name: "ptp-conf" });
  });

  test("a name in args is kept; no args is an empty body", () => {
    assert.equal(legacyNetworkConfig(decodeLegacyNetwork(object({ plugin: "ptp", args: '[{"name":"ptp"}]' })))["name"], "ptp");
    assert.deepEqual(legacyNetworkConfig(decodeLegacyNetwork(object({ plugin: "bridge" }))), { type: "bridge", name: "ptp-conf" });
    assert.deepEqual(legacyNetworkConfig(decodeLegacyNetwork(object({ plugin: "bridge", args: "[]" }))), { type: "bridge", name: "ptp-conf" });
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["no plugin", { args: "[]" }, /Network team-a\/ptp-conf: "plugin" \(the CNI type, e\.g\. "bridge"\) is missing/],
    ["args not a string", { plugin: "ptp", args: [{}] }, /"args" must be a string holding a JSON list .* it is a list; quote it/],
    ["args with a JSON typo", { plugin: "ptp", args: '[{"ipam": {]' }, /Network team-a\/ptp-conf: "args" is not valid JSON \(line 1 column \d+: .*\); fix args/],
    ["args an object, not a list", { plugin: "ptp", args: "{}" }, /"args" must be a JSON list/],
    ["args' first element not an object", { plugin: "ptp", args: '["x"]' }, /first element must be a JSON object/],
    ["another type in args", { plugin: "ptp", args: '[{"type":"bridge"}]' }, /"args" names type "bridge" but "plugin" is "ptp"/],
  ];
  for (const [title, extra, message] of bad) {
    test(`refused with the Network and the field named: ${title}`, () => {
      assert.throws(() => legacyNetworkConfig(decodeLegacyNetwork(object(extra))), (err: unknown) => {
        assert.match((err as Error).message, message);
        assert.equal((err as { errorCode?: string }).errorCode, "MULTUS_ERR_NAD_CONFIG");
        return true;
      });
    });
  }

  test("wrong apiVersion or kind, and a name no pod can select, are refused", () => {
    assert.throws(() => decodeLegacyNetwork({ ...(object({ plugin: "ptp" }) as object), apiVersion: "k8s.cni.cncf.io/v1" }), /apiVersion is "k8s\.cni\.cncf\.io\/v1", expected "kubernetes\.com\/v1"/);
    assert.throws(() => decodeLegacyNetwork({ ...(object({ plugin: "ptp" }) as object), kind: "NetworkAttachmentDefinition" }), /expected "Network"/);
    assert.throws(() => decodeLegacyNetwork({ plugin: "ptp", metadata: { name: "a.b", namespace: "x" } }), /not a DNS-1123 label/);
  });

  test("the gate treats a Network as a NAD of its namespace: Multus itself refused for a tenant, a trusted namespace's host paths allowed", () => {
    const policy = defaultDelegatePolicy("kube-system");
    const evil = decodeLegacyNetwork(object({ plugin: "multus-shim" }));
    assert.throws(() => delegateConfigFromLegacyNetwork(evil, { policy }), (err: unknown) => {
      assert.equal((err as { errorCode?: string }).errorCode, "MULTUS_ERR_DELEGATE_REFUSED");
      assert.match((err as Error).message, /^Network team-a\/ptp-conf \(kubernetes\.com\/v1\): plugin\/args /);
      return true;
    });
    const hostPath = (namespace: string): unknown => ({ ...(object({ plugin: "host-local-user", args: '[{"ipam":{"type":"host-local","dataDir":"/etc"}}]' }) as object), metadata: { name: "n", namespace } });
    assert.throws(() => delegateConfigFromLegacyNetwork(decodeLegacyNetwork(hostPath("team-a")), { policy }), /dataDir/);
    assert.equal(delegateConfigFromLegacyNetwork(decodeLegacyNetwork(hostPath("kube-system")), { policy }).name, "n");
  });
});

describe("the legacy networks annotation", () => {
  test("seed 003's value, with its whitespace and newlines, names the Networks in order", () => {
    assert.deepEqual(parseLegacyNetworksAnnotation('[\n    { "name": "flannel-conf" },\n    { "name": "ptp-conf"}\n]', "ns/p"), ["flannel-conf", "ptp-conf"]);
    assert.deepEqual(parseLegacyNetworksAnnotation("  ", "ns/p"), []);
  });

  const bad: [string, RegExp][] = [
    ["flannel-conf,ptp-conf", /pod ns\/p: annotation "networks": is not valid JSON .* it must be a list like/],
    ['{"name":"a"}', /must be a JSON list/],
    ['[{"name":"a"},{"nam":"b"}]', /element 1: key "nam" is not known \(the legacy form knows only "name"/],
    ['[{"name":"Not_A_Label"}]', /element 0 \("Not_A_Label"\): "name" must be a DNS-1123 label/],
    ['["a"]', /element 0: must be an object like/],
    ['[{}]', /element 0: "name" is missing/],
  ];
  for (const [value, message] of bad) {
    test(`refused with the pod and the element named: ${value}`, () => {
      assert.throws(() => parseLegacyNetworksAnnotation(value, "ns/p"), (err: unknown) => {
        assert.equal((err as { errorCode?: string }).errorCode, "MULTUS_ERR_BAD_SELECTION");
        assert.match((err as Error).message, message);
        return true;
      });
    });
  }
});
