// The address ranges a network's IPAM hands out (host-local's subnets and ranges, static's addresses),
// and which of them overlap across networks: two NADs leasing from the same addresses give two pods
// the same IP on different networks (harmless) or on one L2 segment (not): `validate all` warns.
//
// Exported API:
//   interface IpRange { family: 4 | 6; first: bigint; last: bigint; text: string; field: string }
//   ipamRanges(body, bodyField): IpRange[]
//   overlaps(a, b): boolean
import { isIP } from "node:net";
import { isRecord } from "../cni/is-record.ts";

export interface IpRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
  /** As written ("10.1.0.0/24", or "10.1.0.10-10.1.0.50" within one). */
  text: string;
  /** Where in the object: "spec.config.ipam.ranges[0][1]". */
  field: string;
}

function ipValue(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(ip);
  if (family === 4) return { family, value: ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family !== 6) return undefined;
  // Expand "::" and a trailing dotted quad into eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const n = ipValue(v4)?.value ?? 0n;
    text = `${text.slice(0, -v4.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function cidrRange(cidr: string): { family: 4 | 6; first: bigint; last: bigint } | undefined {
  const [addr = "", prefixText] = cidr.split("/");
  const ip = ipValue(addr);
  if (ip === undefined) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const size = 1n << BigInt(bits - prefix);
  const first = (ip.value / size) * size;
  return { family: ip.family, first, last: first + size - 1n };
}

function rangeOf(r: Record<string, unknown>, field: string): IpRange | undefined {
  if (typeof r["subnet"] !== "string") return undefined;
  const subnet = cidrRange(r["subnet"]);
  if (subnet === undefined) return undefined;
  const start = typeof r["rangeStart"] === "string" ? ipValue(r["rangeStart"])?.value : undefined;
  const end = typeof r["rangeEnd"] === "string" ? ipValue(r["rangeEnd"])?.value : undefined;
  const first = start ?? subnet.first;
  const last = end ?? subnet.last;
  const startText = typeof r["rangeStart"] === "string" ? r["rangeStart"] : "start";
  const endText = typeof r["rangeEnd"] === "string" ? r["rangeEnd"] : "end";
  const text = start === undefined && end === undefined ? r["subnet"] : `${r["subnet"]} (${startText}-${endText})`;
  return { family: subnet.family, first, last, text, field };
}

/** The ranges of every plugin's IPAM in a config body (conf or list) as written. */
export function ipamRanges(body: Record<string, unknown>, bodyField: string): IpRange[] {
  const plugins = Array.isArray(body["plugins"]) ? body["plugins"].map((p: unknown, i) => ({ p, at: `${bodyField}.plugins[${String(i)}]` })) : [{ p: body as unknown, at: bodyField }];
  const out: IpRange[] = [];
  for (const { p, at } of plugins) {
    if (!isRecord(p) || !isRecord(p["ipam"])) continue;
    const ipam = p["ipam"];
    const ipamAt = `${at}.ipam`;
    if (ipam["type"] === "host-local") {
      const top = rangeOf(ipam, ipamAt);
      if (top !== undefined) out.push(top);
      if (Array.isArray(ipam["ranges"])) {
        ipam["ranges"].forEach((set: unknown, i) => {
          if (!Array.isArray(set)) return;
          set.forEach((r: unknown, j) => {
            const range = isRecord(r) ? rangeOf(r, `${ipamAt}.ranges[${String(i)}][${String(j)}]`) : undefined;
            if (range !== undefined) out.push(range);
          });
        });
      }
    } else if (ipam["type"] === "static" && Array.isArray(ipam["addresses"])) {
      ipam["addresses"].forEach((a: unknown, i) => {
        if (!isRecord(a) || typeof a["address"] !== "string") return;
        const ip = ipValue(a["address"].split("/")[0] ?? "");
        if (ip !== undefined) out.push({ family: ip.family, first: ip.value, last: ip.value, text: a["address"], field: `${ipamAt}.addresses[${String(i)}]` });
      });
    }
  }
  return out;
}

export function overlaps(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}
