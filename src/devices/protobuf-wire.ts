// The protobuf wire format, as much as kubelet's PodResources messages need: varints and
// length-delimited fields (strings, bytes, nested messages). Hand-written so that the thin plugin
// loads no gRPC library (start-up is most of a thin call); the messages are a handful of fields.
// Encoding: https://protobuf.dev/programming-guides/encoding/ (tag = field << 3 | wire type).

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
/** Field numbers are 1…2^29-1 (Go's proto.Unmarshal refuses larger ones). */
const MAX_FIELD = 2 ** 29 - 1;

/** One message's fields by number, each value in wire order (a repeated field has several). */
export type WireFields = Map<number, (bigint | Uint8Array)[]>;

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A message of string fields (field number → value; a list for a repeated field). */
export function encodeStrings(fields: Readonly<Record<number, string | readonly string[]>>): Uint8Array {
  const out: number[] = [];
  for (const [key, value] of Object.entries(fields)) {
    for (const s of typeof value === "string" ? [value] : value) {
      const bytes = Buffer.from(s, "utf8");
      writeVarint(out, (Number(key) << 3) | LEN);
      writeVarint(out, bytes.length);
      for (const b of bytes) out.push(b);
    }
  }
  return Uint8Array.from(out);
}

/** Decodes one message; throws on a truncated or malformed buffer. Unknown fields are kept like known ones. */
export function decodeMessage(buf: Uint8Array): WireFields {
  const fields: WireFields = new Map();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new RangeError("truncated varint");
      const b = buf[pos++] ?? 0;
      // The tenth byte carries bit 63 alone: anything more overflows 64 bits (protowire.ConsumeVarint).
      if (shift === 63n && b > 1) throw new RangeError("varint longer than 64 bits");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || pos + n > buf.length) throw new RangeError("field runs past the end of the message");
    const slice = buf.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const type = Number(tag & 7n);
    let value: bigint | Uint8Array;
    if (type === VARINT) value = varint();
    else if (type === LEN) value = take(Number(varint()));
    else if (type === I64) value = take(8);
    else if (type === I32) value = take(4);
    else throw new RangeError(`unsupported wire type ${String(type)} (field ${String(field)})`);
    if (field === 0) throw new RangeError("field number 0");
    if (field > MAX_FIELD) throw new RangeError(`field number ${String(field)} is above the largest, ${String(MAX_FIELD)}`);
    const list = fields.get(field);
    if (list === undefined) fields.set(field, [value]);
    else list.push(value);
  }
  return fields;
}

/** Every value of a length-delimited field as UTF-8 strings. */
export function stringsOf(fields: WireFields, field: number): string[] {
  return (fields.get(field) ?? []).flatMap((v) => (v instanceof Uint8Array ? [Buffer.from(v).toString("utf8")] : []));
}

/** The first value of a string field, "" when absent (proto3 default). */
export function stringOf(fields: WireFields, field: number): string {
  return stringsOf(fields, field)[0] ?? "";
}

/** Every value of a nested-message field, decoded. */
export function messagesOf(fields: WireFields, field: number): WireFields[] {
  return (fields.get(field) ?? []).flatMap((v) => (v instanceof Uint8Array ? [decodeMessage(v)] : []));
}
