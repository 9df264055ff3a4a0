// The pod's network-status annotation `k8s.v1.cni.cncf.io/network-status` (NPWG v1.3 §4.1.3,
// NPWG-18…21) and the device-info objects it can carry (device-info spec 1.1.0, DI-01).
//
// Exported API:
//   NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
//   type NetworkStatus, StatusDns, DeviceInfo (+ PciDeviceInfo, VdpaDeviceInfo, VhostUserDeviceInfo, MemifDeviceInfo)
//   networkStatusFromResult({ network, ifName, isDefault, result, deviceInfo? }): NetworkStatus
//   serializeNetworkStatus(list): string            the annotation value (upstream's layout)
//   parseNetworkStatus(s): NetworkStatus[]          validating
//   decodeDeviceInfo(json): DeviceInfo              DI-01
//
// Decisions:
//   - One entry per attachment, built from the interface the attachment is about: the result interface
//     named CNI_IFNAME with a non-empty `sandbox`, else the first sandbox interface ("the first sandbox
//     interface", NPWG-18/20). Upstream instead makes one entry per sandbox interface and gives every
//     entry the same gateways, DNS and device-info.
//   - `ips` (NPWG-20): the addresses whose `interface` index is that interface; when no IP in the result
//     carries an index (0.1.0/0.2.0 results, plugins that omit it) all of them; when the result has no
//     sandbox interface, the addresses without an index. Addresses are bare, without prefix (as
//     upstream and nad-client write them; the spec's examples show CIDRs, its text says "addresses").
//   - `gateway` (upstream's key, in place of the spec's `default-route`): the gateways of those IPs.
//   - When the result names no sandbox interface at all (0.1.0/0.2.0 results, or a result with host
//     interfaces only), `interface` is CNI_IFNAME: by the CNI contract the plugin created it there.
//   - `default` is always written, true or false (NPWG-19 makes it required; upstream omits false).
//   - `dns` only when it holds something (upstream always writes `"dns":{}`).
//   - parseNetworkStatus accepts what upstream writes (missing `default` = false, CIDR or bare `ips`),
//     refuses more than one `default: true` entry (NPWG-19) and drops keys it does not know.
//   - decodeDeviceInfo: `version` must be 1.x.y (device plugins still write "1.0.0"); vdpa `driver` must be
//     vhost|virtio and vhost-user `mode` client|server (DI-01); memif `role`/`mode` must be non-empty
//     strings (their value sets differ between the spec text and nad-client's constants). Unknown keys
//     inside the type's map are kept (a newer spec minor may add fields); the maps of other types are dropped.
//   - Error codes: device-info problems are MULTUS_ERR_DEVICE. An unparsable network-status annotation is
//     reported as MULTUS_ERR_CONFIG for lack of a dedicated code (see the report to the lead).
import { convertResult } from "../cni/result-convert.ts";
import type { CniResult, Dns, Result100 } from "../cni/types.ts";
import { MultusError } from "../util/multus-error.ts";
import type { MultusErrorCode } from "../util/multus-error.ts";
import { isIpAddress, isIpOrCidr, stripPrefix } from "./address-syntax.ts";
import { parseJsonText } from "./json-text.ts";
import { isRecord } from "../cni/is-record.ts";
import { NETWORK_STATUS_ANNOTATION } from "../k8s/annotations.ts";


export interface StatusDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface PciDeviceInfo {
  "pci-address": string;
  "vhost-net"?: string;
  "rdma-device"?: string;
  "pf-pci-address"?: string;
  "representor-device"?: string;
  [key: string]: unknown;
}

export interface VdpaDeviceInfo {
  "parent-device": string;
  driver: "vhost" | "virtio";
  path: string;
  "pci-address"?: string;
  "pf-pci-address"?: string;
  "representor-device"?: string;
  [key: string]: unknown;
}

export interface VhostUserDeviceInfo {
  mode: "client" | "server";
  path: string;
  [key: string]: unknown;
}

export interface MemifDeviceInfo {
  role: string;
  path: string;
  mode: string;
  [key: string]: unknown;
}

/** A device-info object (device-info spec 1.1.0): the type and the one map that goes with it. */
export type DeviceInfo =
  | { type: "pci"; version: string; pci: PciDeviceInfo }
  | { type: "vdpa"; version: string; vdpa: VdpaDeviceInfo }
  | { type: "vhost-user"; version: string; "vhost-user": VhostUserDeviceInfo }
  | { type: "memif"; version: string; memif: MemifDeviceInfo };

export interface NetworkStatus {
  /** `namespace/name` of the NAD, or the cluster network's name. */
  name: string;
  interface?: string;
  /** Bare addresses. */
  ips?: string[];
  mac?: string;
  /** Upstream extension. */
  mtu?: number;
  /** Exactly one entry of a pod is the default network (NPWG-19/21). */
  default: boolean;
  dns?: StatusDns;
  /** Upstream's key for the gateways (the spec calls it `default-route`). */
  gateway?: string[];
  "device-info"?: DeviceInfo;
}

export interface StatusFromResultArgs {
  /** `namespace/name`, or the cluster network's name. */
  network: string;
  /** The CNI_IFNAME the attachment was made with. */
  ifName: string;
  isDefault: boolean;
  /** The delegate's result, any CNI version. */
  result: CniResult;
  deviceInfo?: DeviceInfo;
}

/** The status entry of one attachment (NPWG-18…21; see the header for the rules). */
export function networkStatusFromResult(args: StatusFromResultArgs): NetworkStatus {
  // 0.1.0/0.2.0 become 1.x here: ip4 then ip6, without interface index (libcni's conversion).
  const r = convertResult(args.result, "1.1.0") as Result100;
  const interfaces = r.interfaces ?? [];
  const inSandbox = (i: number): boolean => (interfaces[i]?.sandbox ?? "") !== "";
  let chosen = interfaces.findIndex((iface, i) => iface.name === args.ifName && inSandbox(i));
  if (chosen < 0) chosen = interfaces.findIndex((_, i) => inSandbox(i));
  const ipConfigs = r.ips ?? [];
  const anyIndexed = ipConfigs.some((ip) => ip.interface !== undefined && ip.interface >= 0);
  const mine = ipConfigs.filter((ip) => {
    const idx = ip.interface ?? -1;
    if (chosen < 0) return idx < 0; // NPWG-20: no sandbox interface → the IPs without one
    return anyIndexed ? idx === chosen : true;
  });

  const out: NetworkStatus = { name: args.network, default: args.isDefault };
  const iface = chosen >= 0 ? interfaces[chosen] : undefined;
  out.interface = iface?.name !== undefined && iface.name !== "" ? iface.name : args.ifName;
  const ips = mine.map((ip) => stripPrefix(ip.address));
  if (ips.length > 0) out.ips = ips;
  if (iface?.mac !== undefined && iface.mac !== "") out.mac = iface.mac;
  if (iface?.mtu !== undefined && iface.mtu > 0) out.mtu = iface.mtu;
  const dns = nonEmptyDns(r.dns);
  if (dns !== undefined) out.dns = dns;
  const gateways = [...new Set(mine.flatMap((ip) => (ip.gateway === undefined || ip.gateway === "" ? [] : [ip.gateway])))];
  if (gateways.length > 0) out.gateway = gateways;
  if (args.deviceInfo !== undefined) out["device-info"] = args.deviceInfo;
  return out;
}

function nonEmptyDns(dns: Dns | undefined): StatusDns | undefined {
  if (dns === undefined) return undefined;
  const out: StatusDns = {};
  if (dns.nameservers !== undefined && dns.nameservers.length > 0) out.nameservers = [...dns.nameservers];
  if (dns.domain !== undefined && dns.domain !== "") out.domain = dns.domain;
  if (dns.search !== undefined && dns.search.length > 0) out.search = [...dns.search];
  if (dns.options !== undefined && dns.options.length > 0) out.options = [...dns.options];
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The annotation value: a JSON list, each entry indented by four spaces as nad-client writes it, keys
 * in upstream's order (name, interface, ips, mac, mtu, default, dns, gateway, device-info).
 */
export function serializeNetworkStatus(list: readonly NetworkStatus[]): string {
  const entries = list.map((s) => {
    const o: Record<string, unknown> = { name: s.name };
    if (s.interface !== undefined) o.interface = s.interface;
    if (s.ips !== undefined) o.ips = s.ips;
    if (s.mac !== undefined) o.mac = s.mac;
    if (s.mtu !== undefined) o.mtu = s.mtu;
    o.default = s.default;
    if (s.dns !== undefined) o.dns = s.dns;
    if (s.gateway !== undefined) o.gateway = s.gateway;
    if (s["device-info"] !== undefined) o["device-info"] = s["device-info"];
    return JSON.stringify(o, null, 4);
  });
  return `[${entries.join(",")}]`;
}


function q(s: string): string {
  return JSON.stringify(s);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

const STATUS_ERROR: MultusErrorCode = "MULTUS_ERR_CONFIG";

/** Parse and validate a network-status annotation value (written by us, upstream or nad-client). */
export function parseNetworkStatus(s: string): NetworkStatus[] {
  const fail = (what: string): MultusError => new MultusError(STATUS_ERROR, `${NETWORK_STATUS_ANNOTATION}: ${what}`);
  const parsed = parseJsonText(s);
  if (!parsed.ok) throw fail(`is not valid JSON (${parsed.error})`);
  if (!Array.isArray(parsed.value)) throw fail("must be a JSON list of status objects");
  const out = (parsed.value as unknown[]).map((raw, i): NetworkStatus => {
    const at = (what: string): MultusError => fail(`entry ${i}: ${what}`);
    if (!isRecord(raw)) throw at("must be an object");
    const { name, interface: ifName, ips, mac, mtu, default: isDefault, dns, gateway } = raw;
    if (typeof name !== "string" || name === "") throw at('"name" is required and must be a non-empty string');
    const entry: NetworkStatus = { name, default: false };
    if (isDefault !== undefined && isDefault !== null) {
      if (typeof isDefault !== "boolean") throw at('"default" must be true or false');
      entry.default = isDefault;
    }
    if (ifName !== undefined && ifName !== null && ifName !== "") {
      if (typeof ifName !== "string") throw at('"interface" must be a string');
      entry.interface = ifName;
    }
    if (ips !== undefined && ips !== null) {
      if (!isStringList(ips) || !ips.every(isIpOrCidr)) throw at('"ips" must be a list of IP addresses');
      entry.ips = [...ips];
    }
    if (mac !== undefined && mac !== null && mac !== "") {
      if (typeof mac !== "string") throw at('"mac" must be a string');
      entry.mac = mac;
    }
    if (mtu !== undefined && mtu !== null && mtu !== 0) {
      if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 0) throw at('"mtu" must be a positive integer');
      entry.mtu = mtu;
    }
    if (dns !== undefined && dns !== null) {
      if (!isRecord(dns)) throw at('"dns" must be an object');
      const d: Dns = {};
      for (const key of ["nameservers", "search", "options"] as const) {
        const v = dns[key];
        if (v === undefined || v === null) continue;
        if (!isStringList(v)) throw at(`"dns".${key} must be a list of strings`);
        d[key] = [...v];
      }
      if (dns.domain !== undefined && dns.domain !== null) {
        if (typeof dns.domain !== "string") throw at('"dns".domain must be a string');
        d.domain = dns.domain;
      }
      const nonEmpty = nonEmptyDns(d);
      if (nonEmpty !== undefined) entry.dns = nonEmpty;
    }
    if (gateway !== undefined && gateway !== null) {
      if (!isStringList(gateway) || !gateway.every(isIpAddress)) throw at('"gateway" must be a list of IP addresses');
      if (gateway.length > 0) entry.gateway = [...gateway];
    }
    const dev = raw["device-info"];
    if (dev !== undefined && dev !== null) {
      try {
        entry["device-info"] = decodeDeviceInfo(dev);
      } catch (err) {
        throw at(`"device-info": ${(err as Error).message}`);
      }
    }
    return entry;
  });
  const defaults = out.flatMap((e, i) => (e.default ? [i] : []));
  if (defaults.length > 1) throw fail(`entries ${defaults.join(", ")} are all marked "default": true; at most one may be`);
  return out;
}

// --- device-info (DI-01) ---------------------------------------------------------------------------

const DEVICE_TYPES = ["pci", "vdpa", "vhost-user", "memif"] as const;

/** Validate a device-info object (a device-info file or a status entry's `device-info`). */
export function decodeDeviceInfo(json: unknown): DeviceInfo {
  const fail = (what: string): MultusError => new MultusError("MULTUS_ERR_DEVICE", `device-info ${what}`);
  if (!isRecord(json)) throw fail("must be a JSON object");
  const { type, version } = json;
  if (typeof type !== "string" || !(DEVICE_TYPES as readonly string[]).includes(type)) {
    throw fail(`"type" must be one of ${DEVICE_TYPES.join(", ")}, got ${typeof type === "string" ? q(type) : String(type)}`);
  }
  if (typeof version !== "string" || !/^1\.\d+\.\d+$/.test(version)) {
    throw fail(`"version" must be a 1.x.y version string such as "1.1.0", got ${typeof version === "string" ? q(version) : String(version)}`);
  }
  const map = json[type];
  if (!isRecord(map)) throw fail(`of type ${q(type)} needs a ${q(type)} object`);
  const required = (key: string, allowed?: readonly string[]): string => {
    const v = map[key];
    if (typeof v !== "string" || v === "") throw fail(`${q(type)}.${q(key)} is required (a non-empty string)`);
    if (allowed !== undefined && !allowed.includes(v)) throw fail(`${q(type)}.${q(key)} must be one of ${allowed.join(", ")}, got ${q(v)}`);
    return v;
  };
  const optional = (keys: readonly string[]): void => {
    for (const key of keys) {
      const v = map[key];
      if (v !== undefined && typeof v !== "string") throw fail(`${q(type)}.${q(key)} must be a string`);
    }
  };
  const copy = { ...map };
  switch (type) {
    case "pci":
      required("pci-address");
      optional(["vhost-net", "rdma-device", "pf-pci-address", "representor-device"]);
      return { type, version, pci: copy as PciDeviceInfo };
    case "vdpa":
      required("parent-device");
      required("driver", ["vhost", "virtio"]);
      required("path");
      optional(["pci-address", "pf-pci-address", "representor-device"]);
      return { type, version, vdpa: copy as VdpaDeviceInfo };
    case "vhost-user":
      required("mode", ["client", "server"]);
      required("path");
      return { type, version, "vhost-user": copy as VhostUserDeviceInfo };
    default:
      required("role");
      required("path");
      required("mode");
      return { type: "memif", version, memif: copy as MemifDeviceInfo };
  }
}
