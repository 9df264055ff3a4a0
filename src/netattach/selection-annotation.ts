// The pod's network selection annotation `k8s.v1.cni.cncf.io/networks` (NPWG v1.3 §4.1.2), parsed
// and validated completely before anything touches the node (conformance §4, NPWG-04…17).
//
// Exported API:
//   NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
//   type NetworkSelection, PortMapping, BandwidthRequest
//   parseSelectionAnnotation(value, podNamespace, podRef /* "ns/name", for messages */,
//                            annotation = NETWORKS_ANNOTATION /* the key named in messages */): NetworkSelection[]
//
// The same syntax serves `v1.multus-cni.io/default-network` (pass its key as `annotation`, and the
// Multus namespace as `podNamespace`).
//
// Every error is MultusError("MULTUS_ERR_BAD_SELECTION") with a one-line message
//   pod <ns/name>: k8s.v1.cni.cncf.io/networks element <i> ("<name or item>"): <what is wrong; what to do>
// where <i> is the 0-based position of the element (as in a JSON path). The spec says an invalid
// annotation "shall be … ignored"; upstream Multus fails the pod instead, and so do we, earlier and with
// the element named: a silently partial set of attachments is worse than a pod that does not start.
//
// Decisions (deliberate; see docs/compatibility.md):
//   - Form: JSON when the value contains `[`, `{` or `"` (upstream's rule), else the comma form. An empty
//     or whitespace-only value selects nothing ([]). The bare value `null` is an error although upstream
//     reads it as a network named "null": it is what a template prints for a missing value. A network
//     really named "null" can still be selected as `[{"name":"null"}]`.
//   - Comma form: items `name`, `namespace/name`, `name@ifname`, `namespace/name@ifname` (the `@` is a
//     Multus extension), each part trimmed. Errors: an empty item (`net-a,` — upstream would go on with an
//     element without a name), more than one `/` or `@`, an empty namespace before `/` or an empty
//     interface after `@` (upstream quietly drops them: usually an unset template variable).
//   - Names and namespaces must be DNS-1123 labels in both forms (NPWG-04; upstream checks only the comma
//     form). An interface name must be a valid Linux name (CNI-P-03 rules); upstream's comma parser checks
//     it less, its JSON parser not at all.
//   - JSON keys are matched case-insensitively, as Go's encoding/json does (so `"Interface"` still works);
//     two spellings of one key in an element are an error. `null` for an optional key means "absent"
//     (Go). Unknown keys containing a dot are reverse-DNS custom keys (NPWG-07) and kept in `extra`;
//     unknown undotted keys are reserved for future versions of the spec: ignored for forward
//     compatibility but listed in `ignoredKeys`, so the caller can warn about a likely typo.
//   - Empty strings for `interface`, `mac`, `infiniband-guid`, `ipam-claim-reference`, `deviceID` mean
//     "absent" (Go omitempty), as `namespace: ""` means the pod's namespace (NPWG-07).
//   - `ips` (NPWG-08) and `portMappings` (NPWG-12) must list at least one entry; `bandwidth` (NPWG-13)
//     must set at least one value, every value a positive integer, a burst only with its rate.
//   - `mac` (NPWG-09) is a 6-byte unicast, non-zero MAC (what the kernel accepts on an Ethernet device);
//     `infiniband-guid` (NPWG-15) is 8 bytes. Both in any of Go net.ParseMAC's spellings.
//   - `default-route` (NPWG-14) lists gateway IPs (no prefix), at most one per family (upstream rejects
//     ECMP default routes at ADD time); it may be empty; at most one element may carry it.
//   - `ipam-claim-reference` together with `ips` is an error (NPWG-16).
//   - `interfaceRequest` is the pre-3.2 spelling of `interface`: both set to different values is an error.
//   - A network selected twice gives two elements (NPWG-17): names are not de-duplicated.
import { CniError } from "../cni/cni-error.ts";
import { validateInterfaceName } from "../cni/plugin-env.ts";
import { MultusError } from "../util/multus-error.ts";
import { ipFamily } from "../cni/ip-family.ts";
import { hardwareAddressBytes, isDns1123Label, isIpAddress, isIpOrCidr } from "./address-syntax.ts";
import { parseJsonText } from "./json-text.ts";
import { isRecord } from "../cni/is-record.ts";
import { NETWORKS_ANNOTATION } from "../k8s/annotations.ts";


export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "TCP" | "UDP" | "SCTP";
  hostIP?: string;
}

export interface BandwidthRequest {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One validated element of the networks annotation. */
export interface NetworkSelection {
  /** The NetworkAttachmentDefinition's name. */
  name: string;
  /** Resolved: an empty or missing namespace is the pod's (NPWG-07). */
  namespace: string;
  /** Requested interface name in the pod (`interface`, legacy `interfaceRequest`, or `@ifname`). */
  interface?: string;
  /** Requested addresses, each an IP with optional prefix, as written (→ runtimeConfig.ips). */
  ips?: string[];
  /** Requested MAC, as written (→ runtimeConfig.mac). */
  mac?: string;
  /** Requested InfiniBand GUID, as written (→ runtimeConfig.infinibandGUID). */
  infinibandGuid?: string;
  portMappings?: PortMapping[];
  bandwidth?: BandwidthRequest;
  /** `cni-args`, kept as given (→ the plugins' `args.cni`, NPWG-11). */
  cniArgs?: Record<string, unknown>;
  /** `default-route` gateways (bare IPs); may be empty (NPWG-14). */
  defaultRoute?: string[];
  ipamClaimReference?: string;
  /** `deviceID` (a Multus extension): the device for this attachment when no resource provides one. */
  deviceId?: string;
  /** Reverse-DNS custom keys (those containing a dot), kept as given (NPWG-07). */
  extra?: Record<string, unknown>;
  /** Unknown undotted keys, ignored; the caller may warn about them (a typo is the likely cause). */
  ignoredKeys?: string[];
  /** Index of the element in the annotation (0-based), for messages. */
  element: number;
}

/**
 * Parse and validate the networks annotation of pod `podRef` (`"ns/name"`, used in messages only).
 * `annotation` is the key the value came from, for messages (default: the networks annotation).
 * Throws MultusError("MULTUS_ERR_BAD_SELECTION") naming the element and what to fix.
 */
export function parseSelectionAnnotation(
  value: string,
  podNamespace: string,
  podRef: string,
  annotation: string = NETWORKS_ANNOTATION,
): NetworkSelection[] {
  if (value.trim() === "") return [];
  // Every message starts "pod <ns/name>: <annotation>".
  const where = `pod ${podRef}: ${annotation}`;
  const selections = /[[{"]/.test(value) || value.trim() === "null"
    ? parseJsonForm(value, podNamespace, where)
    : parseCommaForm(value, podNamespace, where);
  checkSingleDefaultRoute(selections, where);
  return selections;
}

// ---------------------------------------------------------------------------------------------------

function q(s: string): string {
  return JSON.stringify(s);
}

function annotationError(where: string, what: string): MultusError {
  return new MultusError("MULTUS_ERR_BAD_SELECTION", `${where}: ${what}`);
}

/** Builds errors for one element: `… element 2 ("net-a"): what`. */
function elementFailer(where: string, element: number, label: string | undefined): (what: string) => MultusError {
  const named = label === undefined ? "" : ` (${q(label)})`;
  return (what) => new MultusError("MULTUS_ERR_BAD_SELECTION", `${where} element ${element}${named}: ${what}`);
}

function checkInterface(ifName: string, fail: (what: string) => MultusError): void {
  try {
    validateInterfaceName(ifName);
  } catch (err) {
    if (!(err instanceof CniError)) throw err;
    throw fail(`interface ${q(ifName)} is not a valid Linux interface name (${err.message}: at most 15 bytes, no "/", ":" or white space, not "." or ".."); choose another name`);
  }
}

function checkLabel(kind: "namespace" | "network name", s: string, fail: (what: string) => MultusError): void {
  if (!isDns1123Label(s)) {
    throw fail(`${kind} ${q(s)} is not a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)`);
  }
}

// --- comma form ------------------------------------------------------------------------------------

function parseCommaForm(value: string, podNamespace: string, where: string): NetworkSelection[] {
  return value.split(",").map((raw, element) => {
    const item = raw.trim();
    const fail = elementFailer(where, element, item === "" ? undefined : item);
    if (item === "") throw fail('is empty (a stray ","?); remove the extra comma or name a network');
    const slashes = item.split("/").length - 1;
    if (slashes > 1) throw fail('has more than one "/"; write namespace/name or namespace/name@interface');
    const ats = item.split("@").length - 1;
    if (ats > 1) throw fail('has more than one "@"; write name@interface with a single "@"');
    let namespace: string | undefined;
    let rest = item;
    if (slashes === 1) {
      const cut = item.indexOf("/");
      namespace = item.slice(0, cut).trim();
      rest = item.slice(cut + 1);
      if (namespace === "") throw fail('has an empty namespace before "/"; write the name alone to use the pod\'s namespace');
    }
    let ifName: string | undefined;
    let name = rest.trim();
    if (ats === 1) {
      const cut = rest.indexOf("@");
      if (cut < 0) throw fail('has "@" before "/"; write namespace/name@interface');
      name = rest.slice(0, cut).trim();
      ifName = rest.slice(cut + 1).trim();
      if (ifName === "") throw fail('has an empty interface name after "@"; name the interface or drop the "@"');
    }
    if (name === "") throw fail("has an empty network name; name a NetworkAttachmentDefinition");
    if (namespace !== undefined) checkLabel("namespace", namespace, fail);
    checkLabel("network name", name, fail);
    if (ifName !== undefined) checkInterface(ifName, fail);
    const out: NetworkSelection = { name, namespace: namespace ?? podNamespace, element };
    if (ifName !== undefined) out.interface = ifName;
    return out;
  });
}

// --- JSON form -------------------------------------------------------------------------------------

const KNOWN_KEYS = [
  "name",
  "namespace",
  "ips",
  "mac",
  "infiniband-guid",
  "interface",
  "interfaceRequest",
  "portMappings",
  "bandwidth",
  "cni-args",
  "default-route",
  "ipam-claim-reference",
  "deviceID",
] as const;
type KnownKey = (typeof KNOWN_KEYS)[number];
const KEY_BY_FOLDED = new Map<string, KnownKey>(KNOWN_KEYS.map((k) => [k.toLowerCase(), k]));

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${q(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${v}`;
  return typeof v;
}


function parseJsonForm(value: string, podNamespace: string, where: string): NetworkSelection[] {
  const parsed = parseJsonText(value);
  if (!parsed.ok) throw annotationError(where, `is not valid JSON (${parsed.error}); write a JSON list of objects or the comma form`);
  const list = parsed.value;
  if (list === null) throw annotationError(where, 'is JSON null; remove the annotation, or list networks as [{"name":"…"}]');
  if (isRecord(list)) throw annotationError(where, "is a single JSON object; wrap it in [ ] to make a list of objects");
  if (!Array.isArray(list)) throw annotationError(where, `is ${describe(list)}, not a JSON list of objects; write [{"name":"…"}]`);
  return list.map((el: unknown, element) => parseJsonElement(el, element, podNamespace, where));
}

function parseJsonElement(el: unknown, element: number, podNamespace: string, where: string): NetworkSelection {
  if (!isRecord(el)) {
    throw elementFailer(where, element, undefined)(`is ${describe(el)}; every element must be an object with a "name"`);
  }
  // Resolve the keys first (case-insensitively, as Go does) so the name can label every later message.
  const fields = new Map<KnownKey, { key: string; value: unknown }>();
  const extra: [string, unknown][] = [];
  const ignored: string[] = [];
  for (const [key, v] of Object.entries(el)) {
    const known = (KNOWN_KEYS as readonly string[]).includes(key) ? (key as KnownKey) : KEY_BY_FOLDED.get(key.toLowerCase());
    if (known === undefined) {
      if (key.includes(".")) extra.push([key, v]);
      else ignored.push(key);
      continue;
    }
    const prev = fields.get(known);
    if (prev !== undefined) {
      const label = fields.get("name")?.value;
      throw elementFailer(where, element, typeof label === "string" ? label : undefined)(
        `sets ${q(known)} twice (as ${q(prev.key)} and ${q(key)}); keep one`,
      );
    }
    fields.set(known, { key, value: v });
  }
  const get = (k: KnownKey): unknown => {
    const v = fields.get(k)?.value;
    return v === null ? undefined : v;
  };

  const rawName = fields.get("name")?.value;
  const fail = elementFailer(where, element, typeof rawName === "string" && rawName !== "" ? rawName : undefined);
  if (rawName === undefined || rawName === null) throw fail('has no "name"; name the NetworkAttachmentDefinition to attach');
  if (typeof rawName !== "string") throw fail(`"name" must be a string, got ${describe(rawName)}`);
  if (rawName === "") throw fail('has an empty "name"; name the NetworkAttachmentDefinition to attach');
  checkLabel("network name", rawName, fail);
  const out: NetworkSelection = { name: rawName, namespace: podNamespace, element };

  const str = (k: KnownKey): string | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw fail(`${q(k)} must be a string, got ${describe(v)}`);
    return v === "" ? undefined : v;
  };

  const namespace = str("namespace");
  if (namespace !== undefined) {
    checkLabel("namespace", namespace, fail);
    out.namespace = namespace;
  }

  const iface = str("interface");
  const legacy = str("interfaceRequest");
  if (iface !== undefined && legacy !== undefined && iface !== legacy) {
    throw fail(`"interface" (${q(iface)}) and the legacy "interfaceRequest" (${q(legacy)}) differ; keep only "interface"`);
  }
  const ifName = iface ?? legacy;
  if (ifName !== undefined) {
    checkInterface(ifName, fail);
    out.interface = ifName;
  }

  const ips = get("ips");
  if (ips !== undefined) {
    if (!Array.isArray(ips)) throw fail(`"ips" must be a list of IP addresses, got ${describe(ips)}`);
    if (ips.length === 0) throw fail('"ips" is empty; list at least one address or remove the key');
    out.ips = ips.map((ip: unknown, j) => {
      if (typeof ip !== "string" || !isIpOrCidr(ip)) {
        throw fail(`"ips" entry ${j} (${typeof ip === "string" ? q(ip) : describe(ip)}) is not an IP address with optional prefix, e.g. "10.1.0.5/24"`);
      }
      return ip;
    });
  }

  const mac = str("mac");
  if (mac !== undefined) {
    const bytes = hardwareAddressBytes(mac);
    if (bytes?.length !== 6) throw fail(`"mac" ${q(mac)} is not a 6-byte MAC address like "aa:bb:cc:dd:ee:ff"`);
    if (((bytes[0] ?? 0) & 1) === 1) throw fail(`"mac" ${q(mac)} is a multicast address (lowest bit of the first byte set); use a unicast MAC such as "02:…"`);
    if (bytes.every((b) => b === 0)) throw fail(`"mac" ${q(mac)} is all zeros; use a real unicast MAC`);
    out.mac = mac;
  }

  const guid = str("infiniband-guid");
  if (guid !== undefined) {
    if (hardwareAddressBytes(guid)?.length !== 8) throw fail(`"infiniband-guid" ${q(guid)} is not an 8-byte GUID like "c2:11:22:33:44:55:66:77"`);
    out.infinibandGuid = guid;
  }

  const ports = get("portMappings");
  if (ports !== undefined) out.portMappings = parsePortMappings(ports, fail);

  const bandwidth = get("bandwidth");
  if (bandwidth !== undefined) out.bandwidth = parseBandwidth(bandwidth, fail);

  const cniArgs = get("cni-args");
  if (cniArgs !== undefined) {
    if (!isRecord(cniArgs)) throw fail(`"cni-args" must be an object of plugin arguments, got ${describe(cniArgs)}`);
    out.cniArgs = cniArgs;
  }

  const routes = get("default-route");
  if (routes !== undefined) out.defaultRoute = parseDefaultRoute(routes, fail);

  const claim = str("ipam-claim-reference");
  if (claim !== undefined) {
    if (out.ips !== undefined) throw fail('sets both "ips" and "ipam-claim-reference"; the IPAMClaim provides the addresses, remove one of them');
    out.ipamClaimReference = claim;
  }

  const deviceId = str("deviceID");
  if (deviceId !== undefined) out.deviceId = deviceId;

  if (extra.length > 0) out.extra = Object.fromEntries(extra);
  if (ignored.length > 0) out.ignoredKeys = ignored;
  return out;
}

function parsePortMappings(v: unknown, fail: (what: string) => MultusError): PortMapping[] {
  if (!Array.isArray(v)) throw fail(`"portMappings" must be a list of {hostPort, containerPort, protocol}, got ${describe(v)}`);
  if (v.length === 0) throw fail('"portMappings" is empty; list at least one mapping or remove the key');
  return v.map((raw: unknown, j): PortMapping => {
    const where = `"portMappings" entry ${j}`;
    if (!isRecord(raw)) throw fail(`${where} must be an object, got ${describe(raw)}`);
    const pick = (key: string): unknown => {
      const found = Object.keys(raw).filter((k) => k.toLowerCase() === key.toLowerCase());
      if (found.length > 1) throw fail(`${where} sets ${q(key)} twice (${found.map(q).join(", ")}); keep one`);
      const k = found[0];
      return k === undefined ? undefined : (raw[k] ?? undefined);
    };
    const port = (key: "hostPort" | "containerPort"): number => {
      const p = pick(key);
      if (p === undefined) throw fail(`${where} has no ${q(key)}; set a port number 1-65535`);
      if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
        throw fail(`${where}: ${q(key)} must be a port number 1-65535, got ${describe(p)}`);
      }
      return p;
    };
    const hostPort = port("hostPort");
    const containerPort = port("containerPort");
    const proto = pick("protocol");
    let protocol: PortMapping["protocol"] = "TCP";
    if (proto !== undefined && proto !== "") {
      const upper = typeof proto === "string" ? proto.toUpperCase() : "";
      if (upper !== "TCP" && upper !== "UDP" && upper !== "SCTP") {
        throw fail(`${where}: "protocol" must be TCP, UDP or SCTP, got ${describe(proto)}`);
      }
      protocol = upper;
    }
    const out: PortMapping = { hostPort, containerPort, protocol };
    const hostIP = pick("hostIP");
    if (hostIP !== undefined && hostIP !== "") {
      if (typeof hostIP !== "string" || !isIpAddress(hostIP)) throw fail(`${where}: "hostIP" must be an IP address, got ${describe(hostIP)}`);
      out.hostIP = hostIP;
    }
    return out;
  });
}

const BANDWIDTH_KEYS = ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] as const;

function parseBandwidth(v: unknown, fail: (what: string) => MultusError): BandwidthRequest {
  if (!isRecord(v)) throw fail(`"bandwidth" must be an object with ingressRate/ingressBurst/egressRate/egressBurst, got ${describe(v)}`);
  const out: BandwidthRequest = {};
  for (const key of BANDWIDTH_KEYS) {
    const found = Object.keys(v).filter((k) => k.toLowerCase() === key.toLowerCase());
    if (found.length > 1) throw fail(`"bandwidth" sets ${q(key)} twice (${found.map(q).join(", ")}); keep one`);
    const k = found[0];
    const n = k === undefined ? undefined : (v[k] ?? undefined);
    if (n === undefined) continue;
    // NPWG-13: the values are non-zero; the bandwidth plugin takes bits per second / bits as unsigned integers.
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
      throw fail(`"bandwidth".${key} must be a positive integer, got ${describe(n)}`);
    }
    out[key] = n;
  }
  if (Object.keys(out).length === 0) throw fail('"bandwidth" sets no value; set ingressRate/ingressBurst and/or egressRate/egressBurst or remove the key');
  if (out.ingressBurst !== undefined && out.ingressRate === undefined) throw fail('"bandwidth" sets ingressBurst without ingressRate; set both');
  if (out.egressBurst !== undefined && out.egressRate === undefined) throw fail('"bandwidth" sets egressBurst without egressRate; set both');
  return out;
}

function parseDefaultRoute(v: unknown, fail: (what: string) => MultusError): string[] {
  if (!Array.isArray(v)) throw fail(`"default-route" must be a list of gateway IP addresses, got ${describe(v)}`);
  const families = new Map<4 | 6, string>();
  return v.map((gw: unknown, j) => {
    if (typeof gw !== "string" || !isIpAddress(gw)) {
      throw fail(`"default-route" entry ${j} (${typeof gw === "string" ? q(gw) : describe(gw)}) is not a gateway IP address (no prefix)`);
    }
    const family = ipFamily(gw) ?? 4;
    const other = families.get(family);
    if (other !== undefined) {
      throw fail(`"default-route" lists two IPv${family} gateways (${q(other)} and ${q(gw)}); ECMP default routes are not supported, keep one per family`);
    }
    families.set(family, gw);
    return gw;
  });
}

function checkSingleDefaultRoute(selections: readonly NetworkSelection[], where: string): void {
  // NPWG-14: "Only one network attachment may specify" a default route.
  const withRoute = selections.filter((s) => s.defaultRoute !== undefined);
  const [first, second] = withRoute;
  if (first !== undefined && second !== undefined) {
    throw new MultusError(
      "MULTUS_ERR_BAD_SELECTION",
      `${where} elements ${first.element} (${q(first.name)}) and ${second.element} (${q(second.name)}) both set "default-route"; only one network attachment may set it`,
    );
  }
}
