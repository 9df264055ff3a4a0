// The few ASN.1 DER encodings an X.509 v3 certificate needs (ITU-T X.690 §8 and §10). Node can sign
// and parse certificates but has no API to build one, and the webhook must make its own CA on a
// cluster without cert-manager; this is the encoder side only, and every value it emits is
// definite-length DER (X.690 §10.1), which is what certificate parsers (Go's crypto/x509 in the
// kube-apiserver among them) insist on.

/** One encoded TLV. */
export type Der = Uint8Array;

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** X.690 §8.1.3: short form below 128, else the long form with the fewest length octets. */
function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A TLV with `tag` around `content`. */
export function tlv(tag: number, content: Uint8Array): Der {
  return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
}

export function sequence(...items: readonly Der[]): Der {
  return tlv(TAG.sequence, concat(items));
}

/** SET OF: DER sorts the encodings (X.690 §11.6); certificate names use one element per set. */
export function set(...items: readonly Der[]): Der {
  const sorted = [...items].sort((a, b) => Buffer.compare(a, b));
  return tlv(TAG.set, concat(sorted));
}

export function boolean(value: boolean): Der {
  return tlv(TAG.boolean, Uint8Array.of(value ? 0xff : 0x00));
}

/**
 * A non-negative INTEGER from its big-endian magnitude: leading zero octets dropped, one 0x00 put
 * back when the top bit is set (X.690 §8.3.2), so serial numbers are never read as negative.
 */
export function unsignedInteger(magnitude: Uint8Array): Der {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const content = trimmed.length === 0 ? Uint8Array.of(0) : (trimmed[0] ?? 0) >= 0x80 ? concat([Uint8Array.of(0), trimmed]) : trimmed;
  return tlv(TAG.integer, content);
}

export function smallInteger(value: number): Der {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`DER small integer out of range: ${value}`);
  const octets: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return unsignedInteger(Uint8Array.from(octets));
}

/** A BIT STRING of whole octets (signatures, public keys). */
export function bitString(octets: Uint8Array, unusedBits = 0): Der {
  if (unusedBits < 0 || unusedBits > 7) throw new RangeError(`DER bit string: ${unusedBits} unused bits`);
  return tlv(TAG.bitString, concat([Uint8Array.of(unusedBits), octets]));
}

/**
 * A named-bit BIT STRING (KeyUsage) from the numbers of the bits that are set: bit 0 is the most
 * significant bit of the first octet, and DER drops trailing zero bits (X.690 §11.2.2).
 */
export function namedBits(bits: readonly number[]): Der {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const octets = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) octets[Math.floor(bit / 8)] = (octets[Math.floor(bit / 8)] ?? 0) | (0x80 >> bit % 8);
  return bitString(octets, 7 - (highest % 8));
}

export function octetString(octets: Uint8Array): Der {
  return tlv(TAG.octetString, octets);
}

/** An OBJECT IDENTIFIER from its dotted form (X.690 §8.19). */
export function oid(dotted: string): Der {
  const arcs = dotted.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`not an object identifier: ${dotted}`);
    return Number(s);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39)) throw new RangeError(`not an object identifier: ${dotted}`);
  const octets: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    // Base 128, most significant group first, every group but the last with its top bit set.
    const groups: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n % 128) | 0x80);
    octets.push(...groups);
  }
  return tlv(TAG.oid, Uint8Array.from(octets));
}

export function utf8String(text: string): Der {
  return tlv(TAG.utf8String, new TextEncoder().encode(text));
}

/** The content octets of an IA5String (7-bit ASCII), for the implicitly tagged names of a SAN. */
export function ia5Octets(text: string): Uint8Array {
  // eslint-disable-next-line no-control-regex -- IA5 is 7-bit ASCII, control characters included
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError(`not an IA5String (ASCII only): ${text}`);
  return new TextEncoder().encode(text);
}

export function ia5String(text: string): Der {
  return tlv(TAG.ia5String, ia5Octets(text));
}

/**
 * RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime (YYYYMMDDHHMMSSZ) from
 * 2050; seconds always present, no fractions, always UTC.
 */
export function time(date: Date): Der {
  const iso = date.toISOString(); // 2026-12-07T10:11:12.345Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`certificate time out of range: ${iso}`);
  return year < 2050 ? tlv(TAG.utcTime, new TextEncoder().encode(digits.slice(2))) : tlv(TAG.generalizedTime, new TextEncoder().encode(digits));
}

/** A context-specific tag: [n] EXPLICIT wraps an encoding, [n] IMPLICIT replaces a primitive's tag. */
export function explicit(n: number, inner: Der): Der {
  return tlv(0xa0 | n, inner);
}

export function implicitPrimitive(n: number, content: Uint8Array): Der {
  return tlv(0x80 | n, content);
}

export function implicitConstructed(n: number, content: Uint8Array): Der {
  return tlv(0xa0 | n, content);
}
