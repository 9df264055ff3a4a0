// network-status entries from CNI results (NPWG-18…21) and the device-info decoder: pure, no I/O.
// DI-01 through the production path (a device-info file read after the ADD) is in
// test/integration/multus-devices.test.ts; these rows are the decoder's full table.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeResult } from "../../src/cni/result-decode.ts";
import type { CniResult } from "../../src/cni/types.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import {
  decodeDeviceInfo,
  networkStatusFromResult,
  parseNetworkStatus,
  serializeNetworkStatus,
  type DeviceInfo,
  type NetworkStatus,
} from "../../src/netattach/network-status.ts";

/** A result as the executor has it: the delegate's stdout, validated. */
const result = (json: unknown): CniResult => decodeResult(json, "");

// The spec's bridge example (host bridge, host veth, pod eth0), with mtu on the pod interface.
const bridge11 = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "cni0", mac: "00:11:22:33:44:55" },
    { name: "veth3243", mac: "55:44:33:22:11:11" },
    { name: "eth0", mac: "99:88:77:66:55:44", mtu: 1450, sandbox: "/var/run/netns/blue" },
  ],
  ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 2 }],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: { nameservers: ["10.1.0.1"] },
};

const bridge04 = {
  ...bridge11,
  cniVersion: "0.4.0",
  ips: [{ version: "4", address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 2 }],
};

const twoPodInterfaces = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "host0" },
    { name: "net1", mac: "02:00:00:00:00:01", sandbox: "/run/netns/p" },
    { name: "net2", mac: "02:00:00:00:00:02", sandbox: "/run/netns/p" },
  ],
  ips: [
    { address: "192.168.1.10/24", gateway: "192.168.1.1", interface: 1 },
    { address: "192.168.2.10/24", gateway: "192.168.2.1", interface: 2 },
    { address: "fd00:2::10/64", interface: 2 },
    { address: "172.16.0.9/32", interface: 0 },
  ],
};

test("NPWG-18 NPWG-19 NPWG-20 status from the first sandbox interface, across result versions", () => {
  const want: NetworkStatus = {
    name: "team-a/bridge-net",
    interface: "eth0",
    ips: ["10.1.0.5"],
    mac: "99:88:77:66:55:44",
    mtu: 1450,
    default: false,
    dns: { nameservers: ["10.1.0.1"] },
    gateway: ["10.1.0.1"],
  };
  const rows: [string, unknown, NetworkStatus][] = [
    ["1.1.0", bridge11, want],
    ["1.0.0", { ...bridge11, cniVersion: "1.0.0" }, want],
    // 0.4.0 has no interface mtu.
    ["0.4.0", bridge04, { ...want, mtu: undefined } as unknown as NetworkStatus],
    ["0.3.1", { ...bridge04, cniVersion: "0.3.1" }, { ...want, mtu: undefined } as unknown as NetworkStatus],
  ];
  for (const [version, json, expected] of rows) {
    const got = networkStatusFromResult({ network: "team-a/bridge-net", ifName: "eth0", isDefault: false, result: result(json) });
    const clean = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
    assert.deepEqual(got, clean, version);
  }
});

test("NPWG-20 a multi-interface result: the interface named CNI_IFNAME, else the first sandbox one, and only its IPs (Multus differs)", () => {
  const r = result(twoPodInterfaces);
  assert.deepEqual(networkStatusFromResult({ network: "ns/multi", ifName: "net2", isDefault: false, result: r }), {
    name: "ns/multi",
    interface: "net2",
    ips: ["192.168.2.10", "fd00:2::10"],
    mac: "02:00:00:00:00:02",
    default: false,
    gateway: ["192.168.2.1"],
  });
  assert.deepEqual(networkStatusFromResult({ network: "ns/multi", ifName: "eth9", isDefault: false, result: r }), {
    name: "ns/multi",
    interface: "net1",
    ips: ["192.168.1.10"],
    mac: "02:00:00:00:00:01",
    default: false,
    gateway: ["192.168.1.1"],
  });
  // A host-side interface named like CNI_IFNAME is not the pod's.
  assert.equal(networkStatusFromResult({ network: "ns/multi", ifName: "host0", isDefault: false, result: r }).interface, "net1");
});

test("NPWG-20 no sandbox interface: the IPs without an index; interface is CNI_IFNAME", () => {
  const r = result({
    cniVersion: "1.0.0",
    interfaces: [{ name: "host-side" }],
    ips: [
      { address: "10.9.0.2/24", gateway: "10.9.0.1" },
      { address: "10.9.1.2/24", interface: 0 },
    ],
  });
  assert.deepEqual(networkStatusFromResult({ network: "ns/n", ifName: "net1", isDefault: false, result: r }), {
    name: "ns/n",
    interface: "net1",
    ips: ["10.9.0.2"],
    default: false,
    gateway: ["10.9.0.1"],
  });
});

test("NPWG-20 0.2.0 results: ip4 and ip6, both gateways, interface CNI_IFNAME", () => {
  const r = result({
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
    ip6: { ip: "2001:db8::5/64", gateway: "2001:db8::1" },
    dns: {},
  });
  assert.deepEqual(networkStatusFromResult({ network: "ns/old", ifName: "net1", isDefault: false, result: r }), {
    name: "ns/old",
    interface: "net1",
    ips: ["10.1.0.5", "2001:db8::5"],
    default: false,
    gateway: ["10.1.0.1", "2001:db8::1"],
  });
});

test("NPWG-20 IPs without index count for the chosen interface when no IP has one", () => {
  const r = result({
    cniVersion: "1.0.0",
    interfaces: [{ name: "eth0", sandbox: "/run/netns/x", mac: "02:00:00:00:00:09" }],
    ips: [{ address: "10.0.0.7/24" }],
  });
  assert.deepEqual(networkStatusFromResult({ network: "ns/n", ifName: "eth0", isDefault: true, result: r }).ips, ["10.0.0.7"]);
});

test("NPWG-18 NPWG-21 an empty result still gives an entry; default is always written (upstream omits false)", () => {
  const minimal = networkStatusFromResult({ network: "cluster-net", ifName: "eth0", isDefault: true, result: result({ cniVersion: "1.1.0" }) });
  assert.deepEqual(minimal, { name: "cluster-net", interface: "eth0", default: true });
  const secondary = networkStatusFromResult({ network: "ns/n", ifName: "net1", isDefault: false, result: result({ cniVersion: "1.1.0" }) });
  assert.equal(secondary.default, false);
  assert.match(serializeNetworkStatus([minimal, secondary]), /"default": false/);
});

test("NPWG-19 dns only when non-empty; device-info carried through", () => {
  const dev: DeviceInfo = { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:00.1" } };
  const r = result({ ...bridge11, dns: { nameservers: [], search: [] } });
  const s = networkStatusFromResult({ network: "ns/sriov", ifName: "eth0", isDefault: false, result: r, deviceInfo: dev });
  assert.equal(s.dns, undefined);
  assert.deepEqual(s["device-info"], dev);
  const full = networkStatusFromResult({
    network: "ns/x",
    ifName: "eth0",
    isDefault: false,
    result: result({ ...bridge11, dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["svc.local"], options: ["ndots:5"] } }),
  });
  assert.deepEqual(full.dns, { nameservers: ["8.8.8.8"], domain: "example.com", search: ["svc.local"], options: ["ndots:5"] });
});

test("NPWG-19 serializeNetworkStatus writes nad-client's layout and key order; parse round-trips", () => {
  const list: NetworkStatus[] = [
    { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"], mac: "0a:58:0a:f4:00:05", mtu: 1450, default: true, dns: { nameservers: ["10.96.0.10"] }, gateway: ["10.244.0.1"] },
    { name: "team-a/net-a", interface: "net1", default: false, "device-info": { type: "vhost-user", version: "1.1.0", "vhost-user": { mode: "server", path: "/var/run/vhu.sock" } } },
  ];
  const text = serializeNetworkStatus(list);
  assert.equal(
    text.split("\n").slice(0, 9).join("\n"),
    '[{\n    "name": "cbr0",\n    "interface": "eth0",\n    "ips": [\n        "10.244.0.5"\n    ],\n    "mac": "0a:58:0a:f4:00:05",\n    "mtu": 1450,\n    "default": true,',
  );
  assert.ok(text.includes('},{\n    "name": "team-a/net-a"'));
  assert.deepEqual(parseNetworkStatus(text), list);
  assert.equal(serializeNetworkStatus([]), "[]");
});

test("NPWG-19 parseNetworkStatus accepts what upstream writes (no default:false, dns:{}, CIDR ips)", () => {
  const upstream = JSON.stringify([
    { name: "k8s-pod-network", ips: ["10.244.1.3"], default: true, dns: {} },
    { name: "default/macvlan-conf", interface: "net1", ips: ["192.168.1.200/24"], mac: "86:1d:96:ff:55:0d", dns: {}, gateway: ["192.168.1.1"] },
  ]);
  assert.deepEqual(parseNetworkStatus(upstream), [
    { name: "k8s-pod-network", ips: ["10.244.1.3"], default: true },
    { name: "default/macvlan-conf", interface: "net1", ips: ["192.168.1.200/24"], mac: "86:1d:96:ff:55:0d", default: false, gateway: ["192.168.1.1"] },
  ]);
});

test("NPWG-19 parseNetworkStatus rejects malformed values, naming the entry", () => {
  const rows: [string, RegExp][] = [
    ["{", /is not valid JSON \(line 1 column 2 \(end of input\)/],
    ['{"name":"x"}', /must be a JSON list/],
    ['[{"interface":"eth0"}]', /entry 0: "name" is required/],
    ['[{"name":"a","default":"yes"}]', /entry 0: "default" must be true or false/],
    ['[{"name":"a"},{"name":"b","ips":["nope"]}]', /entry 1: "ips" must be a list of IP addresses/],
    ['[{"name":"a","default":true},{"name":"b","default":true}]', /entries 0, 1 are all marked "default": true; at most one may be/],
    ['[{"name":"a","device-info":{"type":"pci","version":"1.1.0"}}]', /entry 0: "device-info": device-info of type "pci" needs a "pci" object/],
    ['[{"name":"a","gateway":["10.0.0.1/24"]}]', /entry 0: "gateway" must be a list of IP addresses/],
    ['[{"name":"a","mtu":-1}]', /entry 0: "mtu" must be a positive integer/],
  ];
  for (const [text, re] of rows) {
    assert.throws(
      () => parseNetworkStatus(text),
      (err: unknown) => err instanceof MultusError && re.test(err.message) && !err.message.includes("\n") && err.message.startsWith("k8s.v1.cni.cncf.io/network-status: "),
      text,
    );
  }
});

// --- device-info objects (the shape DI-01 requires) -------------------------------------------------

test("device-info decoder: every type with its required fields; optional fields and unknown keys kept", () => {
  const valid: unknown[] = [
    { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:18:02.5", "rdma-device": "mlx5_2", "pf-pci-address": "0000:18:00.0", "representor-device": "pf0vf5", "vhost-net": "/dev/vhost-net" } },
    { type: "pci", version: "1.0.0", pci: { "pci-address": "0000:18:02.5" } },
    { type: "vdpa", version: "1.1.0", vdpa: { "parent-device": "vdpa:0000:65:00.3", driver: "vhost", path: "/dev/vhost-vdpa-1", "pci-address": "0000:65:00.3" } },
    { type: "vhost-user", version: "1.1.0", "vhost-user": { mode: "client", path: "/var/run/vhost/sock0" } },
    { type: "memif", version: "1.1.0", memif: { role: "primary", path: "/run/memif.sock", mode: "ethernet" } },
    { type: "pci", version: "1.2.0", pci: { "pci-address": "0000:18:02.5", "future-field": "x" } },
  ];
  for (const json of valid) assert.deepEqual(decodeDeviceInfo(json), json);
  // The maps of other types are dropped.
  assert.deepEqual(decodeDeviceInfo({ type: "pci", version: "1.1.0", pci: { "pci-address": "0000:18:02.5" }, memif: { role: "x" } }), {
    type: "pci",
    version: "1.1.0",
    pci: { "pci-address": "0000:18:02.5" },
  });
});

test("device-info decoder: a missing or wrong field is MULTUS_ERR_DEVICE naming it", () => {
  const rows: [unknown, RegExp][] = [
    ["pci", /must be a JSON object/],
    [{ version: "1.1.0", pci: {} }, /"type" must be one of pci, vdpa, vhost-user, memif, got undefined/],
    [{ type: "usb", version: "1.1.0" }, /"type" must be one of .* got "usb"/],
    [{ type: "pci", pci: { "pci-address": "0000:18:02.5" } }, /"version" must be a 1\.x\.y version string/],
    [{ type: "pci", version: "2.0.0", pci: { "pci-address": "0000:18:02.5" } }, /"version" must be a 1\.x\.y version string .* got "2\.0\.0"/],
    [{ type: "pci", version: "1.1.0", pci: {} }, /"pci"\."pci-address" is required/],
    [{ type: "pci", version: "1.1.0", pci: { "pci-address": "a", "rdma-device": 3 } }, /"pci"\."rdma-device" must be a string/],
    [{ type: "vdpa", version: "1.1.0", vdpa: { "parent-device": "p", driver: "kernel", path: "/dev/x" } }, /"vdpa"\."driver" must be one of vhost, virtio, got "kernel"/],
    [{ type: "vdpa", version: "1.1.0", vdpa: { driver: "virtio", path: "/dev/x" } }, /"vdpa"\."parent-device" is required/],
    [{ type: "vhost-user", version: "1.1.0", "vhost-user": { mode: "peer", path: "/x" } }, /"vhost-user"\."mode" must be one of client, server/],
    [{ type: "vhost-user", version: "1.1.0", "vhost-user": { mode: "server" } }, /"vhost-user"\."path" is required/],
    [{ type: "memif", version: "1.1.0", memif: { role: "primary", path: "/x" } }, /"memif"\."mode" is required/],
    [{ type: "memif", version: "1.1.0" }, /of type "memif" needs a "memif" object/],
  ];
  for (const [json, re] of rows) {
    assert.throws(
      () => decodeDeviceInfo(json),
      (err: unknown) => err instanceof MultusError && err.errorCode === "MULTUS_ERR_DEVICE" && re.test(err.message),
      JSON.stringify(json),
    );
  }
});
