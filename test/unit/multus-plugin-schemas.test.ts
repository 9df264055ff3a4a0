// The per-plugin schemas (src/multus/plugin-schemas.ts) through the real checks (checkNetworkObject):
// a config each plugin's own documentation shows (cni.dev for the reference plugins, sriov-cni's
// README, docs/devices.md for vfioveth; rewritten here) must give no fatal finding and no unknown-key
// warning — the webhook would refuse a working NAD otherwise — and a value the plugin itself refuses at
// ADD (its Go decoder or its own check, read in its source) must be fatal.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMultusConfig } from "../../src/multus/multus-config.ts";
import { checkNetworkObject, type Finding } from "../../src/multus/network-checks.ts";

const ctx = { config: parseMultusConfig({ cniVersion: "1.0.0", clusterNetwork: "x" }, "test") };

// In the Multus namespace (the default policy's trustedNamespaces), so that the delegate policy lets
// the host-path and iptables keys through (tuning's dataDir, portmap's conditionsV4, …) and what is
// tested is the schema alone.
function nad(config: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "net1", namespace: "kube-system" }, spec: { config: JSON.stringify({ cniVersion: "1.0.0", name: "net1", ...config }) } };
}

async function findings(config: Record<string, unknown>): Promise<Finding[]> {
  return checkNetworkObject(nad(config), ctx);
}

const hostLocal = { type: "host-local", subnet: "10.10.0.0/16" };

// [plugin, config] that the plugin accepts: each from its documentation, plus values our old schema got wrong.
const accepted: [string, Record<string, unknown>][] = [
  ["bridge", { type: "bridge", bridge: "mynet0", isDefaultGateway: true, forceAddress: false, ipMasq: true, hairpinMode: true, ipam: hostLocal }],
  ["bridge with vlan and trunk", { type: "bridge", bridge: "br0", vlan: 100, preserveDefaultVlan: false, vlanTrunk: [{ id: 101 }, { minID: 200, maxID: 299 }], macspoofchk: true, portIsolation: true, ipam: hostLocal }],
  ["bridge ipMasqBackend", { type: "bridge", bridge: "br0", ipMasq: true, ipMasqBackend: "nftables", ipam: hostLocal }],
  ["macvlan", { type: "macvlan", master: "eth0", mode: "bridge", linkInContainer: false, ipam: { type: "dhcp" } }],
  ["macvlan passthru, big bcqueuelen", { type: "macvlan", master: "eth0", mode: "passthru", bcqueuelen: 4294967295 }],
  ["ipvlan", { type: "ipvlan", master: "eth0", mode: "l3s", mtu: 1500, ipam: hostLocal }],
  ["host-device", { type: "host-device", device: "enp0s1", ipam: hostLocal }],
  ["host-device by PCI address", { type: "host-device", pciBusID: "0000:3d:00.1" }],
  ["ptp", { type: "ptp", ipMasq: true, mtu: 1450, ipam: { type: "host-local", subnet: "10.1.1.0/24", resolvConf: "/etc/resolv.conf", dataDir: "/run/ipam-state" }, dns: { nameservers: ["10.1.1.1", "8.8.8.8"] } }],
  ["vlan", { type: "vlan", master: "eth0", vlanId: 5, mtu: 1500, linkInContainer: false, ipam: hostLocal }],
  ["dummy", { type: "dummy", ipam: { type: "host-local", subnet: "10.1.2.0/24" } }],
  ["tap", { type: "tap", multiQueue: true, mtu: 1500, mac: "c2:11:22:33:44:55", selinuxContext: "system_u:system_r:container_t:s0", owner: 107, group: 4294967295, bridge: "br0" }],
  ["tuning", { type: "tuning", sysctl: { "net.core.somaxconn": "500", "net.ipv4.conf.IFNAME.arp_filter": "1" }, mac: "c2:b0:57:49:47:f1", promisc: true, allmulti: true, mtu: 1454, txQLen: 20000, dataDir: "/tmp/tuning-state" }],
  ["portmap", { type: "portmap", capabilities: { portMappings: true }, snat: true, masqAll: false, markMasqBit: 13, conditionsV4: ["!", "-d", "192.0.2.0/24"], backend: "iptables" }],
  ["portmap nftables", { type: "portmap", capabilities: { portMappings: true }, backend: "nftables" }],
  ["bandwidth", { type: "bandwidth", ingressRate: 123, ingressBurst: 456, egressRate: 123, egressBurst: 456 }],
  ["bandwidth, large rate and the largest burst", { type: "bandwidth", ingressRate: 40_000_000_000, ingressBurst: 34_359_738_359, unshapedSubnets: ["10.0.0.0/8"] }],
  ["firewall", { type: "firewall", backend: "firewalld", firewalldZone: "trusted" }],
  ["firewall, any other backend string means auto", { type: "firewall", backend: "nftables", iptablesAdminChainName: "CNI-ADMIN", ingressPolicy: "same-bridge" }],
  ["sbr", { type: "sbr", table: 101 }],
  ["vrf", { type: "vrf", vrfname: "blue", table: 1001 }],
  ["static IPAM", { type: "macvlan", master: "eth0", ipam: { type: "static", addresses: [{ address: "10.10.0.1/24", gateway: "10.10.0.254" }, { address: "3ffe:ffff:0:01ff::1/64", gateway: "3ffe:ffff:0::1" }], routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.0.0/16", gw: "10.10.5.1" }], dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"] } } }],
  ["host-local ranges", { type: "bridge", bridge: "cni0", ipam: { type: "host-local", ranges: [[{ subnet: "10.10.0.0/16", rangeStart: "10.10.1.20", rangeEnd: "10.10.3.50", gateway: "10.10.0.254" }, { subnet: "172.16.5.0/24" }], [{ subnet: "3ffe:ffff:0:01ff::/64", rangeStart: "3ffe:ffff:0:01ff::0010", rangeEnd: "3ffe:ffff:0:01ff::0020" }]], routes: [{ dst: "0.0.0.0/0" }, { dst: "192.168.0.0/16", gw: "10.10.5.1", mtu: 1400, priority: 10, table: 5 }, { dst: "3ffe:ffff:0:01ff::1/64" }], dataDir: "/run/my-orchestrator/container-ipam-state" } }],
  ["dhcp IPAM", { type: "macvlan", master: "eth0", ipam: { type: "dhcp", daemonSocketPath: "/run/cni/dhcp.sock", priority: 1, request: [{ skipDefault: false, option: "classless-static-routes" }], provide: [{ option: "host-name", fromArg: "K8S_POD_NAME" }, { option: "12", value: "myhost" }] } }],
  ["sriov", { type: "sriov", vlan: 1000, spoofchk: "off", trust: "on", link_state: "enable", min_tx_rate: 100, max_tx_rate: 200, ipam: hostLocal }],
  ["sriov vlanProto any case, spoofchk any string", { type: "sriov", vlan: 10, vlanQoS: 3, vlanProto: "802.1Ad", spoofchk: "OFF", mtu: 9000, logLevel: "debug" }],
  ["vfioveth", { type: "vfioveth", ipam: { type: "host-local", subnet: "10.56.217.0/24" } }],
  ["vfioveth sysfsRoot", { type: "vfioveth", sysfsRoot: "/host/sys", mac: "02:00:00:00:00:01" }],
  ["a chain", { plugins: [{ type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, ipam: hostLocal }, { type: "portmap", capabilities: { portMappings: true }, snat: true }, { type: "firewall" }, { type: "tuning", sysctl: { "net.ipv4.conf.all.log_martians": "1" } }, { type: "bandwidth", capabilities: { bandwidth: true } }] }],
];

describe("plugin schemas accept what the plugins accept", () => {
  for (const [what, config] of accepted) {
    test(what, async () => {
      assert.deepEqual(await findings(config), []);
    });
  }
});

// [plugin: why, config, the field the finding names] that the plugin refuses at ADD.
const refused: [string, Record<string, unknown>, string][] = [
  ["bridge: vlan out of range", { type: "bridge", vlan: 4095 }, "spec.config.vlan"],
  ["bridge: trunk id 0", { type: "bridge", vlanTrunk: [{ id: 0 }] }, "spec.config.vlanTrunk.0.id"],
  ["bridge: trunk minID without maxID", { type: "bridge", vlanTrunk: [{ minID: 10 }] }, "spec.config.vlanTrunk.0"],
  ["bridge: mtu as a string", { type: "bridge", mtu: "1500" }, "spec.config.mtu"],
  ["macvlan: source mode", { type: "macvlan", master: "eth0", mode: "source" }, "spec.config.mode"],
  ["macvlan: mode compared exactly", { type: "macvlan", master: "eth0", mode: "Bridge" }, "spec.config.mode"],
  ["ipvlan: unknown mode", { type: "ipvlan", master: "eth0", mode: "l4" }, "spec.config.mode"],
  ["vlan: empty master", { type: "vlan", master: "", vlanId: 5 }, "spec.config.master"],
  ["vlan: fractional vlanId", { type: "vlan", master: "eth0", vlanId: 5.5 }, "spec.config.vlanId"],
  ["tap: negative owner", { type: "tap", owner: -1 }, "spec.config.owner"],
  ["tuning: sysctl value not a string", { type: "tuning", sysctl: { "net.core.somaxconn": 500 } }, "spec.config.sysctl.net.core.somaxconn"],
  ["portmap: markMasqBit 32", { type: "portmap", markMasqBit: 32 }, "spec.config.markMasqBit"],
  ["portmap: empty backend (*string)", { type: "portmap", backend: "" }, "spec.config.backend"],
  ["bandwidth: negative rate", { type: "bandwidth", ingressRate: -1, ingressBurst: 10 }, "spec.config.ingressRate"],
  ["bandwidth: burst of 4 GiB", { type: "bandwidth", egressRate: 10, egressBurst: 34_359_738_360 }, "spec.config.egressBurst"],
  ["firewall: unknown ingressPolicy", { type: "firewall", ingressPolicy: "closed" }, "spec.config.ingressPolicy"],
  ["vrf: empty vrfname", { type: "vrf", vrfname: "" }, "spec.config.vrfname"],
  ["vrf: negative table", { type: "vrf", vrfname: "blue", table: -1 }, "spec.config.table"],
  ["sriov: vlanQoS 8", { type: "sriov", vlan: 10, vlanQoS: 8 }, "spec.config.vlanQoS"],
  ["sriov: unknown vlanProto", { type: "sriov", vlan: 10, vlanProto: "802.1x" }, "spec.config.vlanProto"],
  ["sriov: link_state compared exactly", { type: "sriov", link_state: "Enable" }, "spec.config.link_state"],
  ["host-local: a range without subnet", { type: "bridge", ipam: { type: "host-local", ranges: [[{ rangeStart: "10.0.0.2" }]] } }, "spec.config.ipam.ranges.0.0.subnet"],
  ["dhcp: a numeric option", { type: "macvlan", master: "eth0", ipam: { type: "dhcp", request: [{ option: 121 }] } }, "spec.config.ipam.request.0.option"],
];

describe("plugin schemas refuse what the plugins refuse", () => {
  for (const [what, config, field] of refused) {
    test(what, async () => {
      const fatal = (await findings(config)).filter((f) => f.severity === "fatal");
      assert.deepEqual(fatal.map((f) => [f.code, f.field]), [["MULTUS_CHECK_FIELD_TYPE", field]]);
    });
  }
});

describe("keys the plugins ignore are warnings", () => {
  const ignored: [string, Record<string, unknown>, string][] = [
    ["bridge: top-level mac (only runtimeConfig/args carry it)", { type: "bridge", mac: "02:00:00:00:00:01" }, "spec.config.mac"],
    ["dhcp: timeout is a daemon flag, not a config key", { type: "macvlan", master: "eth0", ipam: { type: "dhcp", timeout: 10 } }, "spec.config.ipam.timeout"],
    ["bridge: a typo", { type: "bridge", hairpinmod: true }, "spec.config.hairpinmod"],
  ];
  for (const [what, config, field] of ignored) {
    test(what, async () => {
      assert.deepEqual((await findings(config)).map((f) => [f.severity, f.code, f.field]), [["warning", "MULTUS_CHECK_UNKNOWN_FIELD", field]]);
    });
  }
});
