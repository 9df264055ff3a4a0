// CNI result conversion between spec versions, with libcni's semantics (pkg/types/020, 040, 100).
//
// Exported API:
//   convertResult(result, toVersion): CniResult   any of ALL_VERSIONS to any other (conformance CNI-R-15)
//
// Every result this file returns is a fresh object already shaped for printing, so JSON.stringify of it
// is what libcni would print:
//   - empty optional strings, zero mtu/advmss/priority and empty lists are left out (Go `omitempty`);
//     `table`, `scope` and an IP's `interface` index are kept even when 0 (Go pointers);
//   - 0.1.0–0.4.0 results always carry `dns` (`"dns":{}` when empty: Go prints a struct field even when
//     empty), 1.x results omit an empty `dns` (types100.Result.MarshalJSON deletes it);
//   - keys that are not part of the target version's result type are dropped (libcni decodes into
//     structs), e.g. interface `mtu`/`socketPath`/`pciID` below 1.0.0, `ips[].version` from 1.0.0 on.
// Converting to the result's own version therefore normalises it; decodeResult relies on that.
import { CniCode, CniError } from "./cni-error.ts";
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
import { ipFamily } from "./ip-family.ts";

/** The three result layouts: 0.1.0/0.2.0, 0.3.0/0.3.1/0.4.0, 1.0.0/1.1.0. */
type Layout = "020" | "040" | "100";

function layoutOf(version: string): Layout | undefined {
  if (!isSpecVersion(version)) return undefined;
  if (version === "0.1.0" || version === "0.2.0") return "020";
  if (version === "1.0.0" || version === "1.1.0") return "100";
  return "040";
}

/**
 * Convert between any two of ALL_VERSIONS (libcni's converter graph, which connects every pair):
 * 1.0↔1.1 change the version only; 1.x → 0.3/0.4 drops interface mtu/socketPath/pciID and adds
 * ips[].version; 0.3/0.4 → 1.x drops ips[].version; → 0.1/0.2 keeps the first IPv4 and first IPv6
 * address and splits routes by family (dst/gw only); 0.1/0.2 → later puts ip4 then ip6 into `ips`
 * (no interface index) and merges their routes. An empty `toVersion` means 0.1.0 (libcni).
 * Throws CniError(1) for a version outside ALL_VERSIONS or `cannot convert: no valid IP addresses`.
 */
export function convertResult(result: CniResult, toVersion: string): CniResult {
  const to = toVersion === "" ? IMPLICIT_VERSION : toVersion;
  const from = result.cniVersion;
  const fromLayout = layoutOf(from);
  const toLayout = layoutOf(to);
  if (fromLayout === undefined || toLayout === undefined) {
    throw new CniError(CniCode.IncompatibleVersion, `no converter for CNI result version ${from} to ${to}`);
  }
  switch (fromLayout) {
    case "100": {
      const r = result as Result100;
      if (toLayout === "100") return result100(to, r.interfaces, r.ips, r.routes, r.dns);
      const r040 = from100To040(r, toLayout === "040" ? to : "0.4.0");
      return toLayout === "040" ? r040 : from040To020(r040, to);
    }
    case "040": {
      const r = result as Result040;
      if (toLayout === "040") return result040(to, r.interfaces, r.ips, r.routes, r.dns);
      if (toLayout === "100") return from040To100(r, to);
      return from040To020(r, to);
    }
    case "020": {
      const r = result as Result020;
      if (toLayout === "020") return result020(to, r.ip4, r.ip6, r.dns);
      const r040 = from020To040(r, toLayout === "040" ? to : "0.4.0");
      return toLayout === "040" ? r040 : from040To100(r040, to);
    }
  }
}

// --- layout-to-layout steps (libcni types040.convertFrom02x/convertTo02x, types100.convertTo04x/convertFrom04x)

function from100To040(r: Result100, to: string): Result040 {
  const ips = (r.ips ?? []).map(
    (ip): ResultIp04 => ({ ...ip, version: ipFamily(ip.address) === 4 ? "4" : "6" }),
  );
  return result040(to, r.interfaces, ips, r.routes, r.dns);
}

function from040To100(r: Result040, to: string): Result100 {
  // result100 copies only the 1.x keys of each IP, which drops `version`.
  return result100(to, r.interfaces?.map(iface040), r.ips, r.routes, r.dns);
}

function from040To020(r: Result040, to: string): Result020 {
  let ip4: Result020Ip | undefined;
  let ip6: Result020Ip | undefined;
  // 0.2.0 holds one address per family: the first of each wins.
  for (const ip of r.ips ?? []) {
    if (ip.version === "4" && ip4 === undefined) ip4 = { ip: ip.address, ...optStr("gateway", ip.gateway) };
    else if (ip.version === "6" && ip6 === undefined) ip6 = { ip: ip.address, ...optStr("gateway", ip.gateway) };
    if (ip4 !== undefined && ip6 !== undefined) break;
  }
  if (ip4 === undefined && ip6 === undefined) {
    throw new CniError(CniCode.IncompatibleVersion, "cannot convert: no valid IP addresses");
  }
  for (const route of r.routes ?? []) {
    // Routes go with the address of their destination's family, and only dst/gw survive.
    const target = ipFamily(route.dst) === 4 ? ip4 : ip6;
    if (target === undefined) continue;
    (target.routes ??= []).push({ dst: route.dst, ...optStr("gw", route.gw) });
  }
  return result020(to, ip4, ip6, r.dns);
}

function from020To040(r: Result020, to: string): Result040 {
  const ips: ResultIp04[] = [];
  const routes: ResultRoute[] = [];
  if (r.ip4 !== undefined) {
    ips.push({ version: "4", address: r.ip4.ip, ...optStr("gateway", r.ip4.gateway) });
    routes.push(...(r.ip4.routes ?? []));
  }
  if (r.ip6 !== undefined) {
    ips.push({ version: "6", address: r.ip6.ip, ...optStr("gateway", r.ip6.gateway) });
    routes.push(...(r.ip6.routes ?? []));
  }
  return result040(to, undefined, ips, routes, r.dns);
}

// --- builders: copy the keys of one layout, applying libcni's printing rules

function result100(
  cniVersion: string,
  interfaces: readonly ResultInterface[] | undefined,
  ips: readonly ResultIp[] | undefined,
  routes: readonly ResultRoute[] | undefined,
  dns: Dns | undefined,
): Result100 {
  const out: Result100 = { cniVersion };
  if (interfaces !== undefined && interfaces.length > 0) out.interfaces = interfaces.map(iface100);
  if (ips !== undefined && ips.length > 0) out.ips = ips.map(ip100);
  if (routes !== undefined && routes.length > 0) out.routes = routes.map(route);
  const d = copyDns(dns);
  // CNI 1.0+: an empty dns is omitted (types100.Result.MarshalJSON).
  if (Object.keys(d).length > 0) out.dns = d;
  return out;
}

function result040(
  cniVersion: string,
  interfaces: readonly ResultInterface[] | undefined,
  ips: readonly ResultIp04[] | undefined,
  routes: readonly ResultRoute[] | undefined,
  dns: Dns | undefined,
): Result040 {
  const out: Result040 = { cniVersion };
  if (interfaces !== undefined && interfaces.length > 0) out.interfaces = interfaces.map(iface040);
  if (ips !== undefined && ips.length > 0) out.ips = ips.map(ip040);
  if (routes !== undefined && routes.length > 0) out.routes = routes.map(route);
  // 0.3/0.4: libcni prints the dns struct even when empty (`"dns":{}`).
  out.dns = copyDns(dns);
  return out;
}

function result020(cniVersion: string, ip4: Result020Ip | undefined, ip6: Result020Ip | undefined, dns: Dns | undefined): Result020 {
  const out: Result020 = { cniVersion };
  if (ip4 !== undefined) out.ip4 = ip020(ip4);
  if (ip6 !== undefined) out.ip6 = ip020(ip6);
  // 0.1/0.2: the dns struct is always printed, like 0.4.
  out.dns = copyDns(dns);
  return out;
}

function iface100(i: ResultInterface): ResultInterface {
  return {
    name: i.name,
    ...optStr("mac", i.mac),
    ...optNonZero("mtu", i.mtu),
    ...optStr("sandbox", i.sandbox),
    ...optStr("socketPath", i.socketPath),
    ...optStr("pciID", i.pciID),
  };
}

function iface040(i: ResultInterface): ResultInterface {
  return { name: i.name, ...optStr("mac", i.mac), ...optStr("sandbox", i.sandbox) };
}

function ip100(ip: ResultIp): ResultIp {
  return {
    ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
    address: ip.address,
    ...optStr("gateway", ip.gateway),
  };
}

function ip040(ip: ResultIp04): ResultIp04 {
  return { version: ip.version, ...ip100(ip) };
}

function ip020(ip: Result020Ip): Result020Ip {
  const out: Result020Ip = { ip: ip.ip, ...optStr("gateway", ip.gateway) };
  if (ip.routes !== undefined && ip.routes.length > 0) out.routes = ip.routes.map((r) => ({ dst: r.dst, ...optStr("gw", r.gw) }));
  return out;
}

function route(r: ResultRoute): ResultRoute {
  return {
    dst: r.dst,
    ...optStr("gw", r.gw),
    ...optNonZero("mtu", r.mtu),
    ...optNonZero("advmss", r.advmss),
    ...optNonZero("priority", r.priority),
    ...(r.table !== undefined ? { table: r.table } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
  };
}

function copyDns(d: Dns | undefined): Dns {
  const out: Dns = {};
  if (d === undefined) return out;
  if (d.nameservers !== undefined && d.nameservers.length > 0) out.nameservers = [...d.nameservers];
  if (d.domain !== undefined && d.domain !== "") out.domain = d.domain;
  if (d.search !== undefined && d.search.length > 0) out.search = [...d.search];
  if (d.options !== undefined && d.options.length > 0) out.options = [...d.options];
  return out;
}

function optStr<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value !== undefined && value !== "" ? ({ [key]: value } as Record<K, string>) : {};
}

function optNonZero<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value !== undefined && value !== 0 ? ({ [key]: value } as Record<K, number>) : {};
}
