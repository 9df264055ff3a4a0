// multusctl migrate's conversion (src/cli/legacy-migration.ts), checked against the engine: the plan
// planForPod builds for a legacy pod (Network objects, legacyNetworks on) must equal, attachment for
// attachment (network name, interface name, delegate config, default flag), the plan for the migrated
// pod (the NADs migrate prints, its annotations). Real planner and resolver; objects held in memory.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { migratedAnnotations, nadForLegacyNetwork } from "../../src/cli/legacy-migration.ts";
import type { CniRequest } from "../../src/multus/config-file-planner.ts";
import { parseMultusConfig } from "../../src/multus/multus-config.ts";
import { createNetworkResolver } from "../../src/multus/network-resolver.ts";
import { planForPod } from "../../src/multus/pod-planner.ts";
import { decodeLegacyNetwork } from "../../src/netattach/legacy-network.ts";

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const req: CniRequest = { containerId: "c1", netns: "/run/netns/p", ifName: "eth0", cniArgs: [], runtimeConfig: {} };

const networks = [
  { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "flannel-conf", namespace: "legacy" }, plugin: "bridge", args: '[{"bridge":"legacy0","isDefaultGateway":true,"ipam":{"type":"host-local","subnet":"10.245.0.0/24"}}]' },
  { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "ptp-conf", namespace: "legacy" }, plugin: "ptp", args: '[{"name":"ptp","ipam":{"type":"host-local","subnet":"10.168.1.0/24"}}]' },
  { apiVersion: "kubernetes.com/v1", kind: "Network", metadata: { name: "third", namespace: "legacy" }, plugin: "macvlan", args: '[{"master":"eth1","cniVersion":"0.4.0"}]' },
];
const byKey = new Map(networks.map((n) => [`${n.metadata.namespace}/${n.metadata.name}`, n as unknown]));
const nads = new Map(networks.map((n) => [`${n.metadata.namespace}/${n.metadata.name}`, nadForLegacyNetwork(decodeLegacyNetwork(n)) as unknown]));

async function planOf(annotations: Record<string, string>): Promise<unknown[]> {
  const config = parseMultusConfig({ cniVersion: "1.0.0", type: "multus", kubeconfig: "/dev/null", clusterNetwork: "/nonexistent.conf", legacyNetworks: true, confDir: "/nonexistent" }, "test");
  const resolver = createNetworkResolver(config, (ns, n) => Promise.resolve(nads.get(`${ns}/${n}`)), silent, (ns, n) => Promise.resolve(byKey.get(`${ns}/${n}`)));
  const plan = await planForPod({ config, req, pod: { namespace: "legacy", name: "p", uid: "u" }, annotations }, resolver);
  return plan.attachments.map((a) => ({ network: a.network, ifName: a.ifName, isDefault: a.isDefault, list: a.delegate.list }));
}

describe("multusctl migrate's conversion gives the engine the same plan", () => {
  for (const names of [["flannel-conf", "ptp-conf"], ["flannel-conf"], ["ptp-conf", "third", "flannel-conf"]]) {
    test(`networks ${names.join(", ")}: legacy plan = migrated plan`, async () => {
      const legacy = { networks: JSON.stringify(names.map((name) => ({ name }))), other: "kept" };
      const change = migratedAnnotations(legacy, "legacy", "pod legacy/p");
      assert.ok(change !== undefined);
      assert.equal(change.after["networks"], undefined, "the legacy annotation is removed");
      assert.equal(change.after["other"], "kept");
      assert.equal(change.after["v1.multus-cni.io/default-network"], `legacy/${names[0] ?? ""}`);
      const before = await planOf(legacy);
      assert.equal(before.length, names.length, "the legacy annotation was planned (legacyNetworks on)");
      assert.deepEqual(await planOf(change.after), before);
    });
  }

  test("a pod without the legacy annotation needs no change; one that already selects NADs only loses the stale key", () => {
    assert.equal(migratedAnnotations({ "k8s.v1.cni.cncf.io/networks": "a" }, "ns", "pod ns/p"), undefined);
    assert.deepEqual(migratedAnnotations({ networks: '[{"name":"x"}]', "k8s.v1.cni.cncf.io/networks": "a" }, "ns", "pod ns/p")?.patch, { networks: null });
  });

  test("a pod the engine refuses (legacy annotation and a default-network override) is refused with the same reason", () => {
    assert.throws(() => migratedAnnotations({ networks: '[{"name":"x"}]', "v1.multus-cni.io/default-network": "y" }, "ns", "pod ns/p"), /pod ns\/p: both v1\.multus-cni\.io\/default-network and the legacy "networks" annotation/);
    assert.throws(() => migratedAnnotations({ networks: "x,y" }, "ns", "deployment ns/d"), /deployment ns\/d: annotation "networks": is not valid JSON/);
  });

  test("the NAD keeps the Network's name and namespace, says where it came from, and holds the body the engine runs", () => {
    const nad = nadForLegacyNetwork(decodeLegacyNetwork(networks[1]));
    assert.deepEqual(nad.metadata, { name: "ptp-conf", namespace: "legacy", annotations: { "multus-ts.io/migrated-from": "kubernetes.com/v1 Network legacy/ptp-conf" } });
    assert.deepEqual(JSON.parse(nad.spec.config), { name: "ptp", ipam: { type: "host-local", subnet: "10.168.1.0/24" }, type: "ptp" });
  });
});
