// runtimeConfig derivation (CNI-R-04) and the per-plugin request (CNI-R-04/05), pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildPluginRequest, parseNetworkConfig, parseNetworkConfigList } from "../../src/cni/conflist-runner.ts";
import { CniError } from "../../src/cni/cni-error.ts";
import {
  buildRuntimeConfig,
  canonicalCapabilityName,
  normalizeCapabilityArgs,
  normalizeCapabilityValue,
  WELL_KNOWN_CAPABILITIES,
} from "../../src/cni/runtime-config.ts";
import type { CniResult } from "../../src/cni/types.ts";

test("CNI-R-04 only capabilities declared true AND supplied reach runtimeConfig", () => {
  const rc = buildRuntimeConfig(
    { portMappings: true, bandwidth: false, mac: true, ips: true },
    { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], bandwidth: { ingressRate: 1 }, ips: ["10.0.0.5/24"], aliases: ["x"] },
  );
  assert.deepEqual(rc, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], ips: ["10.0.0.5/24"] });
});

test("CNI-R-04 nothing to inject ⇒ undefined (the conf's own runtimeConfig stays)", () => {
  assert.equal(buildRuntimeConfig({ portMappings: true }, { mac: "c2:11:22:33:44:55" }), undefined);
  assert.equal(buildRuntimeConfig(undefined, { mac: "c2:11:22:33:44:55" }), undefined);
  assert.equal(buildRuntimeConfig({ mac: true }, undefined), undefined);
  assert.equal(buildRuntimeConfig({ mac: true }, {}), undefined);
});

test("CNI-R-04 a capability supplied as JSON null is still supplied (libcni)", () => {
  assert.deepEqual(buildRuntimeConfig({ mac: true }, { mac: null }), { mac: null });
});

test("CNI-R-04 containerd's Go-capitalised keys are re-cased to the CONVENTIONS.md spelling", () => {
  const args = {
    portMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "" }],
    bandwidth: { IngressRate: 1000, IngressBurst: 2000, EgressRate: 3000, EgressBurst: 4000 },
    dns: { Servers: ["10.96.0.10"], Searches: ["svc.cluster.local"], Options: ["ndots:5"] },
    ipRanges: [[{ Subnet: "10.1.0.0/16", RangeStart: "10.1.0.10", RangeEnd: "10.1.0.99", Gateway: "10.1.0.1" }]],
  };
  const rc = buildRuntimeConfig({ portMappings: true, bandwidth: true, dns: true, ipRanges: true }, args);
  assert.deepEqual(rc, {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "" }],
    bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 3000, egressBurst: 4000 },
    dns: { servers: ["10.96.0.10"], searches: ["svc.cluster.local"], options: ["ndots:5"] },
    ipRanges: [[{ subnet: "10.1.0.0/16", rangeStart: "10.1.0.10", rangeEnd: "10.1.0.99", gateway: "10.1.0.1" }]],
  });
});

test("CNI-R-04 capability names match case-insensitively; plugins get the spec spelling", () => {
  // Runtime capitalised the name, plugin declared the spec name.
  assert.deepEqual(buildRuntimeConfig({ portMappings: true }, { PortMappings: [{ HostPort: 1, ContainerPort: 2 }] }), {
    portMappings: [{ hostPort: 1, containerPort: 2 }],
  });
  // Plugin declared an odd spelling of a well-known name.
  assert.deepEqual(buildRuntimeConfig({ infinibandguid: true }, { infinibandGUID: "c2:11:22:33:44:55:66:77" }), {
    infinibandGUID: "c2:11:22:33:44:55:66:77",
  });
  // Unknown capabilities keep the plugin's spelling and an untouched value.
  assert.deepEqual(buildRuntimeConfig({ "example.com/Thing": true }, { "EXAMPLE.COM/thing": { HostPort: 1 } }), {
    "example.com/Thing": { HostPort: 1 },
  });
});

test("CNI-R-04 an exact-spelling key wins over a differently-cased duplicate", () => {
  assert.deepEqual(buildRuntimeConfig({ mac: true }, { MAC: "aa:aa:aa:aa:aa:aa", mac: "bb:bb:bb:bb:bb:bb" }), { mac: "bb:bb:bb:bb:bb:bb" });
  assert.deepEqual(normalizeCapabilityValue("bandwidth", { IngressRate: 1, ingressRate: 2 }), { ingressRate: 2 });
  assert.deepEqual(normalizeCapabilityArgs({ Mac: "a", mac: "b" }), { mac: "b" });
});

test("CNI-R-04 pod annotations are a map whose keys are never re-cased", () => {
  const annotations = { "k8s.v1.cni.cncf.io/networks": "net-a", HostPort: "not a port", "Example.com/X": "1" };
  const rc = buildRuntimeConfig({ "io.kubernetes.cri.pod-annotations": true }, { "io.kubernetes.cri.pod-annotations": annotations });
  assert.deepEqual(rc, { "io.kubernetes.cri.pod-annotations": annotations });
});

test("CNI-R-04 unknown keys inside well-known values and non-object values pass through", () => {
  assert.deepEqual(normalizeCapabilityValue("portMappings", [{ HostPort: 1, Extra: true }, "odd"]), [{ hostPort: 1, Extra: true }, "odd"]);
  assert.equal(normalizeCapabilityValue("bandwidth", 5), 5);
  assert.deepEqual(normalizeCapabilityValue("ips", ["10.0.0.1/24"]), ["10.0.0.1/24"]);
});

test("CNI-R-04 normaliser for Multus: whole capability maps", () => {
  assert.deepEqual(normalizeCapabilityArgs({ PortMappings: [{ HostPort: 1 }], cniDeviceInfoFile: "/f", custom: { A: 1 } }), {
    portMappings: [{ hostPort: 1 }],
    CNIDeviceInfoFile: "/f",
    custom: { A: 1 },
  });
  for (const n of WELL_KNOWN_CAPABILITIES) assert.equal(canonicalCapabilityName(n.toUpperCase()), n);
});

const list = parseNetworkConfigList(
  JSON.stringify({
    cniVersion: "1.0.0",
    cniVersions: ["0.4.0", "1.1.0"],
    name: "mynet",
    plugins: [
      { type: "bridge", name: "ignored", cniVersion: "0.3.1", capabilities: { mac: true }, runtimeConfig: { old: 1 }, custom: { keep: true } },
      { type: "tuning" },
    ],
  }),
);

test("CNI-R-04 CNI-R-05 request: name/cniVersion overwritten, unknown keys and capabilities kept", () => {
  assert.equal(list.cniVersion, "1.1.0");
  const [bridge] = list.plugins;
  assert.ok(bridge);
  const req = buildPluginRequest(list, bridge, undefined, { containerId: "c", netns: "/n", ifName: "eth0", capabilityArgs: { mac: "c2:11:22:33:44:55" } });
  assert.deepEqual(req, {
    type: "bridge",
    name: "mynet",
    cniVersion: "1.1.0",
    capabilities: { mac: true },
    // Replaced, not merged.
    runtimeConfig: { mac: "c2:11:22:33:44:55" },
    custom: { keep: true },
  });
  assert.equal("prevResult" in req, false);
});

test("CNI-R-04 empty capability set keeps the conf's own runtimeConfig; prevResult is added when given", () => {
  const [bridge] = list.plugins;
  assert.ok(bridge);
  const prev: CniResult = { cniVersion: "1.0.0", interfaces: [{ name: "eth0" }] };
  const req = buildPluginRequest(list, bridge, prev, { containerId: "c", netns: "/n", ifName: "eth0", capabilityArgs: { portMappings: [] } });
  assert.deepEqual(req.runtimeConfig, { old: 1 });
  assert.deepEqual(req.prevResult, prev);
});

test("CNI-R-05 conflist version selection follows cniVersion/cniVersions", () => {
  const cases: [object, string | RegExp][] = [
    [{ cniVersions: ["1.1.0", "0.4.0", "1.0.0"] }, "1.1.0"],
    [{ cniVersions: ["99.0.0", "1.1.0", "0.4.0", "1.0.0"] }, "1.1.0"],
    [{ cniVersions: ["1.1.0", "0.4.0", "1.0.f"] }, /1\.0\.f/],
    [{ cniVersion: "1.0.0", cniVersions: ["0.1.0", "0.4.0"] }, "1.0.0"],
    [{ cniVersion: "0.3.1" }, "0.3.1"],
    [{}, "0.1.0"],
  ];
  for (const [extra, want] of cases) {
    const bytes = JSON.stringify({ name: "n", plugins: [{ type: "x" }], ...extra });
    if (typeof want === "string") assert.equal(parseNetworkConfigList(bytes).cniVersion, want, bytes);
    else assert.throws(() => parseNetworkConfigList(bytes), want);
  }
});

test("CNI-R-05 a single conf keeps its own name and version and its exact bytes", () => {
  const text = '{"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"br9"}';
  const conf = parseNetworkConfig(text);
  assert.equal(conf.name, "single");
  assert.equal(conf.cniVersion, "0.4.0");
  assert.equal(conf.plugins.length, 1);
  assert.equal(conf.bytes.toString(), text);
});

test("CNI-R-04 malformed configurations are rejected before anything runs", () => {
  const bad = [
    "{",
    "[]",
    '{"plugins":[{"type":"x"}]}',
    '{"name":"n","plugins":[]}',
    '{"name":"n","plugins":[{"name":"no-type"}]}',
    '{"name":"n","plugins":[{"type":"x","capabilities":{"mac":"true"}}]}',
    '{"name":"n","disableCheck":"maybe","plugins":[{"type":"x"}]}',
  ];
  for (const b of bad) assert.throws(() => parseNetworkConfigList(b), CniError, b);
  assert.equal(parseNetworkConfigList('{"name":"n","disableCheck":"TRUE","disableGC":true,"plugins":[{"type":"x"}]}').disableCheck, true);
});
