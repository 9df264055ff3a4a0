// The config keys of the plugins this Multus knows — the CNI reference plugins, sriov-cni and our
// vfioveth — with the JSON type and values each plugin accepts (read from the plugins' config structs
// and their validation: containernetworking/plugins v1.1.1 … v1.9.x, sriov-cni master), for `multusctl
// validate` and the admission webhook (network-checks.ts). A value the plugin refuses at ADD — Go's
// decoder (wrong JSON type, a fraction or out-of-range number in an integer field) or the plugin's own
// check — is fatal, and nothing else may be, since the webhook refuses a NAD on it. A key the plugin
// does not know is ignored by it, so it is only a warning (usually a typo: `hairpinmode`).
//
// Exported API:
//   interface PluginSchema { fields: valibot entries }
//   PLUGIN_SCHEMAS: Record<type, PluginSchema>, IPAM_SCHEMAS: Record<type, PluginSchema>
//   COMMON_KEYS: keys every plugin config may carry (the CNI spec's and Multus's)
import * as v from "valibot";

type Entry = v.GenericSchema;
export interface PluginSchema {
  fields: Readonly<Record<string, Entry>>;
}

// Go's decoder refuses a JSON value of the wrong kind, a fraction or a negative number in an integer
// field and a number beyond the field's width; whatever the plugin then checks itself is listed per key.
const str = v.string();
const bool = v.boolean();
const int = v.pipe(v.number(), v.integer());
const uint32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4294967295));
// 2^64 - 1 is not a float64; JSON.parse rounds the largest uint64 up to 2^64, which must still pass.
const uint64 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 64));
const strList = v.array(v.string());
const mtu = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
/** A key the plugin reads but accepts in any form (it ignores a value it cannot use). */
const any = v.unknown();
/** Inside an object or list Go reads null as "not set", like a missing key. */
const opt = (e: Entry): Entry => v.nullish(e);
const nonEmpty = v.pipe(v.string(), v.minLength(1));
const vlanId = v.pipe(int, v.minValue(0), v.maxValue(4094));
/**
 * A plain Go string the plugin compares against a list in which "" (the zero value, a missing key)
 * means the default — macvlan's and ipvlan's mode, firewall's ingressPolicy, sriov's link_state. A
 * `*string` key is different: there "" is a value the plugin checks like any other (portmap's backend).
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
// libcni's route: dst is a CIDR (refused when it does not parse), the rest optional.
const route = v.looseObject({ dst: opt(str), gw: opt(str), mtu: opt(int), advmss: opt(int), priority: opt(int), table: opt(int), scope: opt(int) });
const dns = v.looseObject({ nameservers: opt(strList), domain: opt(str), search: opt(strList), options: opt(strList) });
// host-local refuses a range without a subnet ("IP <nil> not v4 nor v6").
const range = v.looseObject({ subnet: str, rangeStart: opt(str), rangeEnd: opt(str), gateway: opt(str) });
// bridge's trunk: every id 1..4094, minID and maxID only together and in order.
const trunkId = opt(v.pipe(int, v.minValue(1), v.maxValue(4094)));
const vlanTrunkEntry = v.pipe(
  v.looseObject({ id: trunkId, minID: trunkId, maxID: trunkId }),
  v.check((t) => (t.minID == null) === (t.maxID == null), "minID and maxID together"),
  v.check((t) => t.minID == null || t.maxID == null || t.minID <= t.maxID, "minID not above maxID"),
);
// bandwidth refuses a burst of 4 GiB (in bytes) or more: burst/8 must stay below 2^32 - 1.
const burst = v.pipe(uint64, v.maxValue(8 * 4294967295 - 1));
// sriov-cni lowers vlanProto before comparing it; "" is refused (it is a *string).
const vlanProto = v.pipe(v.string(), v.check((s) => ["802.1q", "802.1ad"].includes(s.toLowerCase()), "802.1q or 802.1ad (any case)"));

// Known keys are the union over the reference plugins v1.1.1 (Debian's binaries) … v1.9.x: a key a
// newer release added is known even to an older binary that ignores it, and bandwidth's
// shapedSubnets/unshapedSubnets (v1.5.x only, reverted in v1.6.0) stay known.
export const PLUGIN_SCHEMAS: Readonly<Record<string, PluginSchema>> = {
  bridge: {
    fields: {
      // The MAC comes through runtimeConfig.mac or args.cni.mac only; a top-level "mac" is ignored.
      bridge: str, isGateway: bool, isDefaultGateway: bool, forceAddress: bool, ipMasq: bool, mtu, hairpinMode: bool, promiscMode: bool,
      // *string, checked (iptables|nftables) only with ipMasq: true, and unknown to v1.1.1.
      ipMasqBackend: str,
      vlan: vlanId, vlanTrunk: v.array(vlanTrunkEntry),
      preserveDefaultVlan: bool, enabledad: bool, macspoofchk: bool, disableContainerInterface: bool, portIsolation: bool,
    },
  },
  // macvlan compares the mode exactly; "source" is no mode of the reference plugin.
  macvlan: { fields: { master: str, mode: oneOf(["bridge", "private", "vepa", "passthru"]), mtu, mac: str, bcqueuelen: uint32, ...linkInContainer } },
  ipvlan: { fields: { master: str, mode: oneOf(["l2", "l3", "l3s"]), mtu, ...linkInContainer } },
  // DPDKMode has no json tag, so Go reads a "DPDKMode" key too (the plugin overwrites it with pciBusID).
  "host-device": { fields: { device: str, hwaddr: str, kernelpath: str, pciBusID: str, DPDKMode: bool } },
  ptp: { fields: { ipMasq: bool, ipMasqBackend: str, mtu } },
  // vlan refuses an empty master ("master" field is required).
  vlan: { fields: { master: nonEmpty, vlanId, mtu, ...linkInContainer } },
  dummy: { fields: {} },
  loopback: { fields: {} },
  tap: { fields: { mac: str, mtu, selinuxContext: str, multiQueue: bool, owner: uint32, group: uint32, bridge: str } },
  // txQLen is an *int the plugin hands to netlink unchecked.
  tuning: { fields: { mtu, mac: str, promisc: bool, allmulti: bool, sysctl: v.record(str, str), txQLen: int, dataDir: str } },
  portmap: {
    fields: {
      snat: bool, masqAll: bool, markMasqBit: v.pipe(int, v.minValue(0), v.maxValue(31)), externalSetMarkChain: str, conditionsV4: strList, conditionsV6: strList,
      // *string (v1.6.0+): only these two, exactly; "" is refused too.
      backend: v.picklist(["iptables", "nftables"]),
    },
  },
  bandwidth: { fields: { ingressRate: uint64, ingressBurst: burst, egressRate: uint64, egressBurst: burst, unshapedSubnets: strList, shapedSubnets: strList } },
  // firewall's backend: "iptables" or "firewalld" choose, anything else means "firewalld if it runs, else iptables".
  firewall: { fields: { backend: str, iptablesAdminChainName: str, firewalldZone: str, ingressPolicy: oneOf(["open", "same-bridge", "isolated"]) } },
  sbr: { fields: { table: int } },
  vrf: { fields: { vrfname: nonEmpty, table: uint32 } },
  sriov: {
    fields: {
      vlan: vlanId, vlanQoS: v.pipe(int, v.minValue(0), v.maxValue(7)), vlanProto,
      // spoofchk and trust: "on" turns the flag on, any other non-empty string off; nothing is refused.
      mac: str, spoofchk: str, trust: str, link_state: oneOf(["auto", "enable", "disable"]),
      min_tx_rate: int, max_tx_rate: int, logLevel: str, logFile: str,
      // Untagged exported fields of its NetConf, which Go decodes by their own names.
      master: str, mtu: int, vfid: int, origVfState: v.looseObject({}),
    },
  },
  // Ours (src/devices/vfio-veth.ts): a key that is not a non-empty string is ignored, never refused.
  vfioveth: { fields: { sysfsRoot: any, mac: any } },
};

export const IPAM_SCHEMAS: Readonly<Record<string, PluginSchema>> = {
  "host-local": { fields: { subnet: str, rangeStart: str, rangeEnd: str, gateway: str, ranges: v.array(v.array(range)), routes: v.array(route), dataDir: str, resolvConf: str } },
  // An address entry's "address" is required (a CIDR); Go also decodes the untagged "version".
  static: { fields: { addresses: v.array(v.looseObject({ address: str, gateway: opt(str), version: opt(str) })), routes: v.array(route), dns } },
  // dhcp's option is a string (a name from dhcp-options(5) or a number written as a string).
  dhcp: {
    fields: {
      daemonSocketPath: str, priority: int,
      request: v.array(v.looseObject({ skipDefault: opt(bool), option: opt(str) })),
      provide: v.array(v.looseObject({ option: opt(str), value: opt(str), fromArg: opt(str) })),
    },
  },
};

/** Keys every IPAM config may carry besides its own. */
export const IPAM_COMMON_KEYS: ReadonlySet<string> = new Set(["type", "name", "cniVersion"]);
