// The config keys of the plugins this Multus knows — the CNI reference plugins, sriov-cni and our
// vfioveth — with the JSON type each plugin reads them as (from the plugins' own config structs and
// docs), for `multusctl validate` and the admission webhook (network-checks.ts). A key of the wrong
// type makes the plugin fail at ADD (Go's decoder refuses it), so it is fatal; a key the plugin does
// not know is ignored by it, so it is only a warning (usually a typo: `hairpinmode`).
//
// Exported API:
//   interface PluginSchema { fields: valibot entries; note?: string }
//   PLUGIN_SCHEMAS: Record<type, PluginSchema>, IPAM_SCHEMAS: Record<type, PluginSchema>
//   COMMON_KEYS: keys every plugin config may carry (the CNI spec's and Multus's)
import * as v from "valibot";

type Entry = v.GenericSchema;
export interface PluginSchema {
  fields: Readonly<Record<string, Entry>>;
}

const str = v.string();
const bool = v.boolean();
const int = v.pipe(v.number(), v.integer());
const uint = v.pipe(v.number(), v.integer(), v.minValue(0));
const strList = v.array(v.string());
const mtu = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
/**
 * A string the plugin checks against a list: "" is always among them (Go's zero value, which every
 * one of these plugins reads as "the default"), so an empty value is never a false fatal finding.
 */
const oneOf = (values: readonly string[]): Entry => v.picklist(["", ...values]);

/** Keys of the CNI spec (and what runtimes and Multus add) that any plugin config may carry. */
export const COMMON_KEYS: ReadonlySet<string> = new Set([
  "cniVersion", "cniVersions", "name", "type", "capabilities", "ipam", "dns", "args", "runtimeConfig", "prevResult",
  "disableCheck", "disableGC", "cni.dev/valid-attachments", "cni.dev/attachments",
  // Multus hands a device to every plugin of a device-backed network (docs/devices.md).
  "deviceID", "pciBusID",
]);

const linkInContainer = { linkInContainer: bool };
const route = v.looseObject({ dst: str, gw: v.optional(str), mtu: v.optional(int), advmss: v.optional(int), priority: v.optional(int), table: v.optional(int), scope: v.optional(int) });
const dns = v.looseObject({ nameservers: v.optional(strList), domain: v.optional(str), search: v.optional(strList), options: v.optional(strList) });
const range = v.looseObject({ subnet: str, rangeStart: v.optional(str), rangeEnd: v.optional(str), gateway: v.optional(str) });

export const PLUGIN_SCHEMAS: Readonly<Record<string, PluginSchema>> = {
  bridge: {
    fields: {
      bridge: str, isGateway: bool, isDefaultGateway: bool, forceAddress: bool, ipMasq: bool, ipMasqBackend: str, mtu, hairpinMode: bool,
      promiscMode: bool, vlan: v.pipe(int, v.minValue(0), v.maxValue(4094)), vlanTrunk: v.array(v.looseObject({ id: v.optional(int), minID: v.optional(int), maxID: v.optional(int) })),
      preserveDefaultVlan: bool, enabledad: bool, macspoofchk: bool, disableContainerInterface: bool, portIsolation: bool, mac: str,
    },
  },
  macvlan: { fields: { master: str, mode: oneOf(["bridge", "private", "vepa", "passthru", "source"]), mtu, mac: str, bcqueuelen: uint, ...linkInContainer } },
  ipvlan: { fields: { master: str, mode: oneOf(["l2", "l3", "l3s"]), mtu, ...linkInContainer } },
  "host-device": { fields: { device: str, hwaddr: str, kernelpath: str, pciBusID: str } },
  ptp: { fields: { ipMasq: bool, ipMasqBackend: str, mtu } },
  vlan: { fields: { master: str, vlanId: v.pipe(int, v.minValue(0), v.maxValue(4094)), mtu, ...linkInContainer } },
  dummy: { fields: {} },
  loopback: { fields: {} },
  tap: { fields: { mac: str, mtu, selinuxcontext: str, multiQueue: bool, owner: uint, group: uint, bridge: str } },
  tuning: { fields: { mtu, mac: str, promisc: bool, allmulti: bool, sysctl: v.record(str, str), txQLen: uint, dataDir: str } },
  portmap: { fields: { snat: bool, markMasqBit: v.pipe(int, v.minValue(0), v.maxValue(31)), externalSetMarkChain: str, conditionsV4: strList, conditionsV6: strList, backend: oneOf(["iptables", "nftables"]) } },
  bandwidth: { fields: { ingressRate: uint, ingressBurst: uint, egressRate: uint, egressBurst: uint, unshapedSubnets: strList, shapedSubnets: strList } },
  firewall: { fields: { backend: oneOf(["iptables", "firewalld"]), iptablesAdminChainName: str, firewalldZone: str, ingressPolicy: oneOf(["open", "same-bridge", "isolated"]) } },
  sbr: { fields: { table: int } },
  vrf: { fields: { vrfname: str, table: uint } },
  sriov: {
    fields: {
      vlan: v.pipe(int, v.minValue(0), v.maxValue(4094)), vlanQoS: v.pipe(int, v.minValue(0), v.maxValue(7)), vlanProto: oneOf(["802.1q", "802.1Q", "802.1ad", "802.1AD"]),
      mac: str, spoofchk: oneOf(["on", "off"]), trust: oneOf(["on", "off"]), link_state: oneOf(["auto", "enable", "disable"]),
      min_tx_rate: uint, max_tx_rate: uint, logLevel: str, logFile: str,
    },
  },
  vfioveth: { fields: { sysfsRoot: str } },
};

export const IPAM_SCHEMAS: Readonly<Record<string, PluginSchema>> = {
  "host-local": { fields: { subnet: str, rangeStart: str, rangeEnd: str, gateway: str, ranges: v.array(v.array(range)), routes: v.array(route), dataDir: str, resolvConf: str } },
  static: { fields: { addresses: v.array(v.looseObject({ address: str, gateway: v.optional(str) })), routes: v.array(route), dns } },
  dhcp: { fields: { daemonSocketPath: str, request: v.array(v.looseObject({ skipDefault: v.optional(bool), option: v.optional(str) })), provide: v.array(v.looseObject({ option: v.optional(str), value: v.optional(str), fromArg: v.optional(str) })), timeout: int } },
};

/** Keys every IPAM config may carry besides its own. */
export const IPAM_COMMON_KEYS: ReadonlySet<string> = new Set(["type", "name", "cniVersion"]);
