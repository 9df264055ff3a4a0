// Property and fuzz tests of the protobuf wire decoder (src/devices/protobuf-wire.ts) that reads the
// kubelet's PodResources answers: any bytes give fields of valid numbers whose values are 64-bit
// varints or views into the input (a length prefix never allocates), or the decoder's own RangeError
// naming what is malformed; never another exception, never a stack overflow on deep nesting.
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage, encodeStrings, messagesOf, stringOf, stringsOf, type WireFields } from "../../src/devices/protobuf-wire.ts";
import { fuzz, fuzzExample, fuzzProperties, mutatedBytes, outcomeOf } from "../helpers/fuzz.ts";

const MAX_FIELD = 2 ** 29 - 1;
/** The decoder's documented errors: RangeErrors with these messages. */
const DOCUMENTED = /^(truncated varint|varint longer than 64 bits|field runs past the end of the message|unsupported wire type [0-9]+ \(field [0-9]+\)|field number 0|field number [0-9]+ is above the largest, 536870911)$/;

function isDocumented(err: unknown): boolean {
  return err instanceof RangeError && DOCUMENTED.test(err.message);
}

/** The property of one decode: documented error, or well-formed fields viewing `buf`. */
function checkDecode(buf: Uint8Array): WireFields | undefined {
  const out = outcomeOf(() => decodeMessage(buf), isDocumented);
  if ("error" in out) return undefined;
  let bytes = 0;
  for (const [field, values] of out.value) {
    assert.ok(Number.isSafeInteger(field) && field >= 1 && field <= MAX_FIELD, `field number ${String(field)}`);
    assert.ok(values.length > 0);
    for (const v of values) {
      if (typeof v === "bigint") {
        assert.ok(v >= 0n && v < 2n ** 64n, `varint ${String(v)} fits 64 bits`);
        continue;
      }
      // A view into the input, never a copy: a length prefix cannot make the decoder allocate.
      assert.equal(v.buffer, buf.buffer);
      assert.ok(v.byteOffset >= buf.byteOffset && v.byteOffset + v.length <= buf.byteOffset + buf.length);
      bytes += v.length;
    }
  }
  assert.ok(bytes <= buf.length, "the values fit in the message");
  return out.value;
}

/** What pod-resources.ts does with an answer: List/Get → pods → containers → devices, all decoded. */
function walkPodResources(buf: Uint8Array): void {
  const top = checkDecode(buf);
  if (top === undefined) return;
  outcomeOf(() => {
    for (const pod of messagesOf(top, 1)) {
      stringOf(pod, 1);
      stringOf(pod, 2);
      for (const container of messagesOf(pod, 3)) {
        for (const devices of messagesOf(container, 2)) {
          assert.equal(typeof stringOf(devices, 1), "string");
          for (const id of stringsOf(devices, 2)) assert.equal(typeof id, "string");
        }
      }
    }
  }, isDocumented);
}

// ---- generators -----------------------------------------------------------------------------------

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function lenField(field: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint(BigInt(field * 8 + 2)), ...varint(BigInt(payload.length)), ...payload]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A PodResources List answer as the kubelet writes it: pods → containers → devices (+ cpu ids, unknown fields). */
const deviceIds = fc.array(fc.stringMatching(/^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/), { maxLength: 3 });
const containerDevices = fc.record({ resource: fc.constantFrom("intel.com/sriov_netdevice", "nvidia.com/gpu", ""), ids: deviceIds }).map(({ resource, ids }) => encodeStrings({ 1: resource, 2: ids }));
const container = fc
  .record({ name: fc.string({ maxLength: 8 }), devices: fc.array(containerDevices, { maxLength: 3 }), cpus: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 3 }) })
  .map(({ name, devices, cpus }) => concat([encodeStrings({ 1: name }), ...devices.map((d) => lenField(2, d)), ...cpus.map((c) => Uint8Array.from([0x18, ...varint(c)]))]));
const pod = fc
  .record({ name: fc.string({ maxLength: 8 }), namespace: fc.string({ maxLength: 8 }), containers: fc.array(container, { maxLength: 3 }), fixed64: fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }), { nil: undefined }) })
  .map(({ name, namespace, containers, fixed64 }) => concat([encodeStrings({ 1: name, 2: namespace }), ...containers.map((c) => lenField(3, c)), ...(fixed64 === undefined ? [] : [Uint8Array.from([0x21, ...fixed64])])]));
const listAnswer = fc.array(pod, { maxLength: 4 }).map((pods) => concat(pods.map((p) => lenField(1, p))));

/** A tag of any field number and wire type, and a value for it: varint, a length with fewer or more bytes, fixed sizes. */
const rawField = fc
  .record({ field: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 32 }), fc.constantFrom(MAX_FIELD, MAX_FIELD + 1)), type: fc.integer({ min: 0, max: 7 }), value: fc.bigInt({ min: 0n, max: 2n ** 70n }), payload: fc.uint8Array({ maxLength: 12 }) })
  .map(({ field, type, value, payload }) => Uint8Array.from([...varint(BigInt(field) * 8n + BigInt(type)), ...(type === 0 || type === 2 ? varint(value) : []), ...payload]));

/** Overlong varints: up to 12 bytes of continuation, ending in any byte. */
const longVarint = fc.tuple(fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 8, maxLength: 11 }), fc.integer({ min: 0, max: 0xff }), fc.boolean()).map(([cont, last, asLength]) =>
  Uint8Array.from(asLength ? [0x0a, ...cont, last] : [0x08, ...cont, last]),
);

/** A message nested `depth` levels (field 1 in field 1 …), whole or cut. */
const nested = fc.record({ depth: fc.integer({ min: 1, max: 3000 }), cut: fc.option(fc.nat(), { nil: undefined }) }).map(({ depth, cut }) => {
  // Built outside in (sizes first), so that deep messages cost linear time to make.
  const leaf = encodeStrings({ 2: "leaf" });
  const sizes = [leaf.length];
  for (let i = 0; i < depth; i++) {
    const inner = sizes[i] ?? 0;
    sizes.push(1 + varint(BigInt(inner)).length + inner);
  }
  const prefix: number[] = [];
  for (let i = depth - 1; i >= 0; i--) prefix.push(0x0a, ...varint(BigInt(sizes[i] ?? 0)));
  const m = concat([Uint8Array.from(prefix), leaf]);
  return cut === undefined ? m : m.subarray(0, cut % (m.length + 1));
});

fuzzProperties(import.meta.url, {
  "any bytes: well-formed fields or the decoder's own RangeError": fuzz(() => fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
    walkPodResources(b);
  }), { weight: 6 }),
  "sequences of arbitrary tags, wire types, varints and payloads: the same": fuzz(() => fc.property(fc.array(rawField, { maxLength: 8 }), (fields) => {
    walkPodResources(concat(fields));
  }), { weight: 6 }),
  "mutated PodResources answers (cut, flipped, spliced): the same, through the pods, containers and devices": fuzz(() => fc.property(mutatedBytes(listAnswer), (b) => {
    walkPodResources(b);
  }), { weight: 6 }),
  "valid PodResources answers decode to what was encoded": fuzz(() => fc.property(fc.array(fc.record({ resource: fc.string({ unit: "grapheme", maxLength: 10 }), ids: fc.array(fc.string({ unit: "grapheme", maxLength: 10 }), { maxLength: 4 }) }, { noNullPrototype: true }), { maxLength: 4 }), (devices) => {
    const answer = lenField(1, lenField(3, concat(devices.map((d) => lenField(2, encodeStrings({ 1: d.resource, 2: d.ids }))))));
    const containers = messagesOf(decodeMessage(answer), 1).flatMap((p) => messagesOf(p, 3));
    const [only] = containers;
    assert.ok(containers.length === 1 && only !== undefined);
    assert.deepEqual(messagesOf(only, 2).map((d) => ({ resource: stringOf(d, 1), ids: stringsOf(d, 2) })), devices);
  }), { weight: 2 }),
  "varints of 8 to 12 bytes: a 64-bit value or 'varint longer than 64 bits', as a value and as a length": fuzz(() => fc.property(longVarint, (b) => {
    checkDecode(b);
  }), { weight: 4 }),
  "length prefixes up to 2^64-1 running past the end: refused at once, nothing allocated": fuzz(() => fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 17n }), fc.uint8Array({ maxLength: 16 }), (n, tail) => {
    const b = Uint8Array.from([0x0a, ...varint(n + BigInt(tail.length)), ...tail]);
    assert.throws(() => decodeMessage(b), /^RangeError: field runs past the end of the message$/);
  }), { weight: 4 }),
  "messages nested up to 3000 levels: one level decoded at a time, never a stack overflow": fuzz(() => fc.property(nested, (m) => {
    let level = checkDecode(m);
    while (level !== undefined) {
      const inner = level.get(1)?.[0];
      if (!(inner instanceof Uint8Array)) break;
      level = checkDecode(inner);
    }
  }), { weight: 0.2 }),
});

fuzzExample("a tenth varint byte above 1 overflows 64 bits and is refused (it decoded to a value above 2^64)", () => {
  // 2^64 exactly: nine bytes of 0x80 and a tenth of 0x02.
  const tooBig = Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]);
  assert.throws(() => decodeMessage(tooBig), /^RangeError: varint longer than 64 bits$/);
  const max = Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.equal(decodeMessage(max).get(1)?.[0], 2n ** 64n - 1n);
});

fuzzExample("a field number above 2^29-1 is refused (it was kept, as an inexact number for tags above 2^56)", () => {
  const tag = (field: bigint): number[] => varint(field * 8n);
  assert.throws(() => decodeMessage(Uint8Array.from([...tag(2n ** 29n), 0x01])), /^RangeError: field number 536870912 is above the largest, 536870911$/);
  assert.throws(() => decodeMessage(Uint8Array.from([...tag(2n ** 60n + 1n), 0x01])), /is above the largest/);
  assert.equal(decodeMessage(Uint8Array.from([...tag(BigInt(MAX_FIELD)), 0x07])).get(MAX_FIELD)?.[0], 7n);
});
