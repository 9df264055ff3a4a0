// Syntax checks for the values the NPWG annotations carry: Kubernetes names, IP addresses, CIDRs and
// hardware addresses (MAC, InfiniBand GUID).
//
// Exported API:
//   isDns1123Label(s): boolean          `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters
//   isIpAddress(s): boolean             an IPv4 or IPv6 address without prefix or zone
//   isIpOrCidr(s): boolean              an address, optionally with `/prefix` in range for its family
//   hardwareAddressBytes(s): number[] | undefined   Go net.ParseMAC's spellings, any length it accepts
//   stripPrefix(cidr): string           "10.1.0.5/16" → "10.1.0.5"
import { isIP } from "node:net";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Kubernetes' DNS-1123 label (namespace names; NPWG-04 for NetworkAttachmentDefinition names). */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** An IP address as Go's net.ParseIP accepts it: no prefix, no IPv6 zone (`%eth0`). */
export function isIpAddress(s: string): boolean {
  return !s.includes("%") && isIP(s) !== 0;
}

/**
 * An address with an optional prefix, as Go's net.ParseCIDR accepts it: the prefix is decimal and at
 * most 32 for an address written in dotted IPv4 form, 128 for one written with colons.
 */
export function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return isIpAddress(s);
  const addr = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  if (!isIpAddress(addr) || !/^\d{1,3}$/.test(prefix)) return false;
  // Go's ParseCIDR bounds the prefix by the spelling: dotted quads 32, anything with colons 128.
  return Number(prefix) <= (addr.includes(":") ? 128 : 32);
}

/** The address part of a CIDR (an address without prefix is returned unchanged). */
export function stripPrefix(cidr: string): string {
  const slash = cidr.indexOf("/");
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/**
 * The bytes of a hardware address written as Go's net.ParseMAC accepts it — `aa:bb:cc:dd:ee:ff`,
 * `aa-bb-cc-dd-ee-ff` (one separator throughout) or `aabb.ccdd.eeff` — for the lengths it accepts
 * (6-byte MAC, 8-byte EUI-64 / InfiniBand GUID, 20-byte InfiniBand link-layer address). Undefined
 * when the text is none of these.
 */
export function hardwareAddressBytes(s: string): number[] | undefined {
  let hex: string[];
  if (/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$/.test(s)) hex = s.split(":");
  else if (/^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2})+$/.test(s)) hex = s.split("-");
  else if (/^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4})+$/.test(s)) hex = s.split(".").flatMap((g) => [g.slice(0, 2), g.slice(2)]);
  else return undefined;
  if (hex.length !== 6 && hex.length !== 8 && hex.length !== 20) return undefined;
  return hex.map((h) => parseInt(h, 16));
}
