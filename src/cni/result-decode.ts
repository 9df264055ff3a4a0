// Validation of a plugin's stdout as a CNI result, with libcni's semantics (pkg/invoke/exec.go
// fixupResultVersion + pkg/types/create).
//
// Exported API:
//   decodeResult(json, confVersion): CniResult
//
// Decisions:
//   - The result keeps its own version; it is not converted to confVersion (libcni converts later, e.g.
//     when it prints or caches). Use convertResult for that.
//   - Unknown keys are DROPPED, at every level, as libcni does by decoding into Go structs: a result is
//     a closed format per version, and dropping keeps conversion well defined. So are keys of another
//     version's layout (a 0.4.0 interface's `mtu`, a 1.0.0 IP's `version`).
//   - The returned object is shaped for printing (see result-convert.ts): Go-omitempty values left out,
//     `"dns":{}` on 0.x, no empty dns on 1.x.
//   - Where libcni's decoder accepts a missing field we accept it too (interface `name` ⇒ "", a missing
//     0.3/0.4 `ips[].version` is derived from the address), but a present field of the wrong type, an
//     address that is not a CIDR or a gateway that is not an IP is an error, as in Go's unmarshalling.
//     A missing `address`/`dst`/`ip` is an error too (libcni would carry a zero IPNet, printed "<nil>").
//   - Addresses are kept verbatim (libcni re-prints them canonically, e.g. lower-case IPv6).
import { CniCode, CniError } from "./cni-error.ts";
import { ipFamily } from "./ip-family.ts";
import { convertResult } from "./result-convert.ts";
import type {
  CniResult,
  Dns,
  Result020,
  Result020Ip,
  Result040,
  Result100,
  ResultInterface,
  ResultIp,
  ResultIp04,
  ResultRoute,
} from "./types.ts";
import { IMPLICIT_VERSION, isSpecVersion } from "./version.ts";
import { isRecord } from "./is-record.ts";

/**
 * Validate a plugin's parsed stdout as a CNI result. JSON `null` is an empty result (libcni). A result
 * without a (non-empty string) `cniVersion` takes `confVersion` (libcni, CNI-R-07; an empty confVersion
 * means 0.1.0). A version outside ALL_VERSIONS → CniError(1) `unsupported CNI result version "2.0.0"`;
 * a shape error → CniError(6) `invalid CNI result: <path>: <problem>`.
 */
export function decodeResult(json: unknown, confVersion: string): CniResult {
  const obj = json ?? {};
  if (!isRecord(obj)) throw shapeError("", `must be a JSON object, got ${describe(obj)}`);
  const raw = obj.cniVersion;
  // libcni: a non-string or empty cniVersion is replaced by the config's (cni#895).
  const version = typeof raw === "string" && raw !== "" ? raw : confVersion === "" ? IMPLICIT_VERSION : confVersion;
  if (!isSpecVersion(version)) {
    throw new CniError(CniCode.IncompatibleVersion, `unsupported CNI result version "${version}"`);
  }
  let decoded: CniResult;
  if (version === "0.1.0" || version === "0.2.0") decoded = decode020(obj, version);
  else if (version === "1.0.0" || version === "1.1.0") decoded = decode100(obj, version);
  else decoded = decode040(obj, version);
  // Same-version conversion copies only the layout's keys and applies the printing rules.
  return convertResult(decoded, version);
}

/** 0.3.0…1.1.0 share one layout; they differ only in how an IP entry looks (`version` in 0.3/0.4). */
function decodeInterfaceLayout<I extends ResultIp>(
  o: Record<string, unknown>,
  cniVersion: string,
  decodeIpEntry: (v: unknown, path: string) => I,
): { cniVersion: string; interfaces?: ResultInterface[]; ips?: I[]; routes?: ResultRoute[]; dns?: Dns } {
  const out: { cniVersion: string; interfaces?: ResultInterface[]; ips?: I[]; routes?: ResultRoute[]; dns?: Dns } = { cniVersion };
  const interfaces = optArray(o, "interfaces", "interfaces", decodeInterface);
  if (interfaces !== undefined) out.interfaces = interfaces;
  const ips = optArray(o, "ips", "ips", decodeIpEntry);
  if (ips !== undefined) out.ips = ips;
  const routes = optArray(o, "routes", "routes", decodeRoute);
  if (routes !== undefined) out.routes = routes;
  const dns = decodeDns(o.dns, "dns");
  if (dns !== undefined) out.dns = dns;
  return out;
}

function decode100(o: Record<string, unknown>, cniVersion: string): Result100 {
  return decodeInterfaceLayout(o, cniVersion, decodeIp);
}

function decode040(o: Record<string, unknown>, cniVersion: string): Result040 {
  return decodeInterfaceLayout(o, cniVersion, decodeIp04);
}

function decode020(o: Record<string, unknown>, cniVersion: string): Result020 {
  const out: Result020 = { cniVersion };
  const ip4 = decodeIp020(o.ip4, "ip4");
  if (ip4 !== undefined) out.ip4 = ip4;
  const ip6 = decodeIp020(o.ip6, "ip6");
  if (ip6 !== undefined) out.ip6 = ip6;
  const dns = decodeDns(o.dns, "dns");
  if (dns !== undefined) out.dns = dns;
  return out;
}

function decodeInterface(v: unknown, path: string): ResultInterface {
  const o = record(v, path);
  const out: ResultInterface = { name: optString(o, "name", path) ?? "" };
  const mac = optString(o, "mac", path);
  if (mac !== undefined) out.mac = mac;
  const mtu = optInt(o, "mtu", path);
  if (mtu !== undefined) out.mtu = mtu;
  const sandbox = optString(o, "sandbox", path);
  if (sandbox !== undefined) out.sandbox = sandbox;
  const socketPath = optString(o, "socketPath", path);
  if (socketPath !== undefined) out.socketPath = socketPath;
  const pciID = optString(o, "pciID", path);
  if (pciID !== undefined) out.pciID = pciID;
  return out;
}

function decodeIp(v: unknown, path: string): ResultIp {
  const o = record(v, path);
  const out: ResultIp = { address: cidr(o, "address", path) };
  const gateway = optIp(o, "gateway", path);
  if (gateway !== undefined) out.gateway = gateway;
  const index = optInt(o, "interface", path);
  if (index !== undefined) {
    if (index < 0) throw shapeError(`${path}.interface`, `must be a non-negative index, got ${index}`);
    out.interface = index;
  }
  return out;
}

function decodeIp04(v: unknown, path: string): ResultIp04 {
  const ip = decodeIp(v, path);
  const raw = (v as Record<string, unknown>).version;
  if (raw === undefined || raw === "") {
    // Spec 0.4.0 makes `version` mandatory, but libcni tolerates its absence; derive it instead of
    // losing the address on a later conversion to 0.2.0.
    return { ...ip, version: ipFamily(ip.address) === 4 ? "4" : "6" };
  }
  if (raw !== "4" && raw !== "6") throw shapeError(`${path}.version`, `must be "4" or "6", got ${describe(raw)}`);
  return { ...ip, version: raw };
}

function decodeRoute(v: unknown, path: string): ResultRoute {
  const o = record(v, path);
  const out: ResultRoute = { dst: cidr(o, "dst", path) };
  const gw = optIp(o, "gw", path);
  if (gw !== undefined) out.gw = gw;
  for (const key of ["mtu", "advmss", "priority", "table", "scope"] as const) {
    const n = optInt(o, key, path);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

function decodeIp020(v: unknown, path: string): Result020Ip | undefined {
  if (v === undefined || v === null) return undefined;
  const o = record(v, path);
  const out: Result020Ip = { ip: cidr(o, "ip", path) };
  const gateway = optIp(o, "gateway", path);
  if (gateway !== undefined) out.gateway = gateway;
  // 0.2.0 routes carry only dst/gw in our types; libcni's other route keys never occur in 0.2 results.
  const routes = optArray(o, "routes", `${path}.routes`, (r, p) => {
    const d = decodeRoute(r, p);
    return d.gw !== undefined ? { dst: d.dst, gw: d.gw } : { dst: d.dst };
  });
  if (routes !== undefined) out.routes = routes;
  return out;
}

function decodeDns(v: unknown, path: string): Dns | undefined {
  if (v === undefined || v === null) return undefined;
  const o = record(v, path);
  const out: Dns = {};
  const nameservers = optArray(o, "nameservers", `${path}.nameservers`, str);
  if (nameservers !== undefined) out.nameservers = nameservers;
  const domain = optString(o, "domain", path);
  if (domain !== undefined) out.domain = domain;
  const search = optArray(o, "search", `${path}.search`, str);
  if (search !== undefined) out.search = search;
  const options = optArray(o, "options", `${path}.options`, str);
  if (options !== undefined) out.options = options;
  return out;
}

// --- field helpers; `path` names the containing object, messages name the field


function record(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) throw shapeError(path, `must be an object, got ${describe(v)}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string") throw shapeError(path, `must be a string, got ${describe(v)}`);
  return v;
}

/** A JSON `null` counts as absent, as in Go's unmarshalling. */
function optArray<T>(o: Record<string, unknown>, key: string, path: string, item: (v: unknown, path: string) => T): T[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw shapeError(path, `must be an array, got ${describe(v)}`);
  return v.map((e, i) => item(e, `${path}[${i}]`));
}

function optString(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return str(v, join(path, key));
}

function optInt(o: Record<string, unknown>, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw shapeError(join(path, key), `must be an integer, got ${describe(v)}`);
  return v;
}

function cidr(o: Record<string, unknown>, key: string, path: string): string {
  const v = o[key];
  if (v === undefined || v === null) throw shapeError(join(path, key), "is missing");
  const s = str(v, join(path, key));
  if (!isCidr(s)) throw shapeError(join(path, key), `invalid CIDR address: ${s}`);
  return s;
}

/** An IP field; "" is the same as absent (Go's net.IP.UnmarshalText). */
function optIp(o: Record<string, unknown>, key: string, path: string): string | undefined {
  const s = optString(o, key, path);
  if (s === undefined || s === "") return undefined;
  if (ipFamily(s) === undefined) throw shapeError(join(path, key), `invalid IP address: ${s}`);
  return s;
}

function isCidr(s: string): boolean {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || ipFamily(ip) === undefined) return false;
  // The prefix limit follows the spelling: Go parses "::ffff:a.b.c.d" as a 16-byte address.
  return Number(prefix) <= (ip.includes(":") ? 128 : 32);
}


function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function shapeError(path: string, problem: string): CniError {
  return new CniError(CniCode.DecodingFailure, `invalid CNI result: ${path === "" ? "" : `${path}: `}${problem}`);
}
