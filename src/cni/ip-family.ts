// The one address-family helper: which family an IP or the address part of a CIDR belongs to, as Go's
// `ip.To4() != nil` decides it (libcni, the reference plugins and upstream Multus all use that test).
import { isIPv4, isIPv6 } from "node:net";

/**
 * 4 or 6 for an IP address or a CIDR ("10.1.0.5/16" → 4); undefined for anything else (an IPv6 zone
 * such as `%eth0` is not an address here). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, any
 * spelling) counts as IPv4, as in Go.
 */
export function ipFamily(addressOrCidr: string): 4 | 6 | undefined {
  const slash = addressOrCidr.lastIndexOf("/");
  const ip = slash < 0 ? addressOrCidr : addressOrCidr.slice(0, slash);
  if (isIPv4(ip)) return 4;
  if (!isIPv6(ip) || ip.includes("%")) return undefined;
  // The WHATWG URL parser canonicalises IPv6 (lower case, `::` compression, no dotted tail), which
  // turns every spelling of an IPv4-mapped address into `[::ffff:x:y]`.
  const canonical = new URL(`http://[${ip}]/`).hostname;
  return /^\[::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}\]$/.test(canonical) ? 4 : 6;
}
