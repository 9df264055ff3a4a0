// Property and fuzz tests of parseSelectionAnnotation (src/netattach/selection-annotation.ts), the
// pod's networks annotation: any value, in the comma form or the JSON form, gives a list of valid
// selections or MultusError("MULTUS_ERR_BAD_SELECTION") with a one-line message naming the pod and
// the annotation; never another exception. Every selection returned is one a delegate can be run with.
import assert from "node:assert/strict";
import fc from "fast-check";
import { validateInterfaceName } from "../../src/cni/plugin-env.ts";
import { ipFamily } from "../../src/cni/ip-family.ts";
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION } from "../../src/k8s/annotations.ts";
import { hardwareAddressBytes, isDns1123Label, isIpAddress, isIpOrCidr } from "../../src/netattach/address-syntax.ts";
import { parseSelectionAnnotation, type NetworkSelection } from "../../src/netattach/selection-annotation.ts";
import { MultusError } from "../../src/util/multus-error.ts";
import { assertOneLine, fuzz, fuzzExample, fuzzProperties, jsonValue, mutatedJsonText, outcomeOf } from "../helpers/fuzz.ts";

const POD_NS = "team-a";
const POD = "team-a/web-0";

/** Parses with either annotation key; the documented error is the only acceptable exception. */
function parse(value: string, annotation: string = NETWORKS_ANNOTATION): { value: NetworkSelection[] } | { error: Error } {
  return outcomeOf(
    () => parseSelectionAnnotation(value, POD_NS, POD, annotation),
    (err) => err instanceof MultusError && err.errorCode === "MULTUS_ERR_BAD_SELECTION" && err.code === 7 && err.message.startsWith(`pod ${POD}: ${annotation}`),
  );
}

/** The property every input must satisfy; returns the selections when it was accepted. */
function check(value: string, annotation: string = NETWORKS_ANNOTATION): NetworkSelection[] | undefined {
  const out = parse(value, annotation);
  if ("error" in out) {
    assertOneLine(out.error.message);
    return undefined;
  }
  const selections = out.value;
  assert.ok(Array.isArray(selections));
  if (value.trim() === "") assert.deepEqual(selections, []);
  const jsonForm = /[[{"]/.test(value) || value.trim() === "null";
  selections.forEach((s, i) => {
    assertWellFormed(s, i);
    if (!jsonForm) assert.deepEqual(Object.keys(s).filter((k) => !["name", "namespace", "interface", "element"].includes(k)), [], "the comma form sets names and interfaces only");
  });
  assert.ok(selections.filter((s) => s.defaultRoute !== undefined).length <= 1, "at most one element sets default-route");
  // What is accepted is written into the delegates' configs and copied into the plan.
  JSON.stringify(selections);
  structuredClone(selections);
  return selections;
}

function assertWellFormed(s: NetworkSelection, i: number): void {
  assert.equal(s.element, i);
  assert.ok(isDns1123Label(s.name), `name ${JSON.stringify(s.name)} is a DNS-1123 label`);
  assert.ok(isDns1123Label(s.namespace), `namespace ${JSON.stringify(s.namespace)} is a DNS-1123 label`);
  if (s.interface !== undefined) validateInterfaceName(s.interface);
  if (s.ips !== undefined) {
    assert.ok(s.ips.length > 0);
    for (const ip of s.ips) assert.ok(isIpOrCidr(ip), ip);
    assert.equal(s.ipamClaimReference, undefined, "ips and ipam-claim-reference exclude each other");
  }
  if (s.mac !== undefined) {
    const bytes = hardwareAddressBytes(s.mac);
    assert.equal(bytes?.length, 6, s.mac);
    assert.equal((bytes[0] ?? 1) & 1, 0, "unicast");
    assert.ok(bytes.some((b) => b !== 0), "not all zeros");
  }
  if (s.infinibandGuid !== undefined) assert.equal(hardwareAddressBytes(s.infinibandGuid)?.length, 8);
  if (s.portMappings !== undefined) {
    assert.ok(s.portMappings.length > 0);
    for (const p of s.portMappings) {
      for (const port of [p.hostPort, p.containerPort]) assert.ok(Number.isInteger(port) && port >= 1 && port <= 65535);
      assert.ok(["TCP", "UDP", "SCTP"].includes(p.protocol));
      if (p.hostIP !== undefined) assert.ok(isIpAddress(p.hostIP));
    }
  }
  if (s.bandwidth !== undefined) {
    const values = Object.values(s.bandwidth);
    assert.ok(values.length > 0);
    for (const v of values) assert.ok(Number.isSafeInteger(v) && v > 0);
    if (s.bandwidth.ingressBurst !== undefined) assert.notEqual(s.bandwidth.ingressRate, undefined);
    if (s.bandwidth.egressBurst !== undefined) assert.notEqual(s.bandwidth.egressRate, undefined);
  }
  if (s.defaultRoute !== undefined) {
    for (const gw of s.defaultRoute) assert.ok(isIpAddress(gw), gw);
    const families = s.defaultRoute.map((gw) => ipFamily(gw));
    assert.equal(new Set(families).size, families.length, "one gateway per family");
  }
  if (s.cniArgs !== undefined) assert.ok(typeof s.cniArgs === "object" && !Array.isArray(s.cniArgs));
  if (s.extra !== undefined) for (const k of Object.keys(s.extra)) assert.ok(k.includes("."));
  if (s.ignoredKeys !== undefined) for (const k of s.ignoredKeys) assert.ok(!k.includes("."));
  for (const v of [s.ipamClaimReference, s.deviceId, s.interface, s.mac, s.infinibandGuid]) assert.notEqual(v, "", "empty strings mean absent");
}

// ---- generators -----------------------------------------------------------------------------------

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/);
/** Names near the DNS-1123 rules: valid, or wrong in one way. */
const nearLabel = fc.oneof(
  label,
  fc.constantFrom("", "A", "net_a", "-a", "a-", "a.b", "null", "a".repeat(63), "a".repeat(64), " net-a ", "nét", "a\nb"),
  fc.string({ maxLength: 10 }),
);
const ifName = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9._-]{0,14}$/),
  fc.constantFrom("", ".", "..", "eth0:1", "a/b", "a b", "a\tb", "abcdefghijklmnop", "abcdefghijklmné", "net1", "é".repeat(8)),
  fc.string({ unit: "grapheme", maxLength: 17 }),
);
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.constantFrom("::ffff:10.0.0.1", "fe80::1%eth0", "10.0.0.256", "1.2.3", ""));
const ipOrCidr = fc.oneof(ip, fc.tuple(ip, fc.integer({ min: -1, max: 200 })).map(([a, p]) => `${a}/${String(p)}`), fc.constantFrom("10.0.0.1/", "10.0.0.1/024", "::/0"));
const hardwareAddress = fc
  .record({
    bytes: fc.oneof(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.uint8Array({ maxLength: 21 })),
    style: fc.constantFrom(":", "-", ".", ":U"),
  })
  .map(({ bytes, style }) => {
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0"));
    if (style === ".") return hex.join("").replace(/(.{4})(?=.)/g, "$1.");
    if (style === ":U") return hex.join(":").toUpperCase();
    return hex.join(style);
  });
const port = fc.oneof(fc.integer({ min: -2, max: 70_000 }), fc.constantFrom(1, 65535, 65536, 0, 80.5, 1e21), jsonValue(1));
const portMapping = fc.oneof(
  fc.record(
    {
      hostPort: port,
      containerPort: port,
      protocol: fc.oneof(fc.constantFrom("TCP", "udp", "Sctp", "", "ICMP"), jsonValue(1)),
      hostIP: fc.oneof(ip, jsonValue(1)),
      HostPort: port,
    },
    { requiredKeys: [] },
  ),
  jsonValue(1),
);
const bandwidthValue = fc.oneof(fc.integer({ min: -5, max: 1_000_000 }), fc.constantFrom(0, 1.5, 2 ** 53, 1e300, "1000"), jsonValue(1));
const bandwidth = fc.oneof(
  fc.record({ ingressRate: bandwidthValue, ingressBurst: bandwidthValue, egressRate: bandwidthValue, egressBurst: bandwidthValue, IngressRate: bandwidthValue }, { requiredKeys: [] }),
  jsonValue(1),
);

/** Mostly valid values (so that validation reaches the other keys), some near-valid, a few of any type. */
function choice(valid: fc.Arbitrary<unknown>, near: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 2, arbitrary: near }, { weight: 1, arbitrary: jsonValue(1) });
}

const validIfName = fc.stringMatching(/^[a-z][a-z0-9._-]{0,14}$/).filter((n) => n !== "." && n !== "..");
const validIp = fc.oneof(fc.ipV4(), fc.ipV6());
const validCidr = fc.oneof(validIp, fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${String(p)}`), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${String(p)}`));
const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
const validMac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
  b[0] = (b[0] ?? 0) & 0xfe;
  b[5] = (b[5] ?? 0) | 1;
  return hex(b);
});
const validPorts = fc.array(
  fc.record(
    { hostPort: fc.integer({ min: 1, max: 65535 }), containerPort: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom("TCP", "udp", "SCTP", ""), hostIP: validIp },
    { requiredKeys: ["hostPort", "containerPort"] },
  ),
  { minLength: 1, maxLength: 3 },
);
const rate = fc.integer({ min: 1, max: 2 ** 40 });
const validBandwidth = fc.oneof(fc.record({ ingressRate: rate, ingressBurst: rate }, { requiredKeys: ["ingressRate"] }), fc.record({ egressRate: rate, egressBurst: rate }, { requiredKeys: ["egressRate"] }));
const validRoutes = fc.oneof(fc.constant([]), fc.tuple(fc.ipV4()), fc.tuple(fc.ipV6()), fc.tuple(fc.ipV4(), fc.ipV6()));

/** Each known key with values valid for it, near-valid, and of any type. */
const KEY_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  name: choice(label, nearLabel),
  namespace: choice(fc.oneof(label, fc.constant("")), nearLabel),
  ips: choice(fc.array(validCidr, { minLength: 1, maxLength: 3 }), fc.array(ipOrCidr, { maxLength: 3 })),
  mac: choice(validMac, hardwareAddress),
  "infiniband-guid": choice(fc.uint8Array({ minLength: 8, maxLength: 8 }).map(hex), hardwareAddress),
  interface: choice(validIfName, ifName),
  interfaceRequest: choice(validIfName, ifName),
  portMappings: choice(validPorts, fc.array(portMapping, { maxLength: 3 })),
  bandwidth: choice(validBandwidth, bandwidth),
  "cni-args": choice(fc.dictionary(fc.string({ maxLength: 6 }), jsonValue(2), { maxKeys: 3 }), jsonValue(3)),
  "default-route": choice(validRoutes, fc.array(ip, { maxLength: 3 })),
  "ipam-claim-reference": choice(fc.string({ maxLength: 12 }), fc.constant("")),
  deviceID: choice(fc.string({ maxLength: 12 }), fc.constant("")),
};
const KNOWN = Object.keys(KEY_VALUES);

/** `key` (ASCII) with the letters `up` picks in upper case, the others as they were or (`lower`) in lower case. */
function recase(key: string, up: readonly boolean[], lower: boolean): string {
  return key.replace(/[a-zA-Z]/g, (c, i: number) => (up[i % up.length] === true ? c.toUpperCase() : lower ? c.toLowerCase() : c));
}

/** A key as written: known (maybe re-cased), dotted custom, unknown, or a prototype name. */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...KNOWN), fc.array(fc.boolean(), { minLength: 1, maxLength: 24 })).map(([k, up]) => recase(k, up, false)) },
  { weight: 1, arbitrary: fc.constantFrom("example.com/color", "io.acme.x", "colour", "__proto__", "constructor", "toString", "") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

/** An element: an object of keys with near-valid or arbitrary values (own "__proto__" keys too, as JSON.parse makes them). */
const element: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.tuple(key, fc.nat()), { maxLength: 6 }).chain((pairs) =>
    fc.tuple(...pairs.map(([k]) => KEY_VALUES[KNOWN.find((n) => n.toLowerCase() === k.toLowerCase()) ?? ""] ?? jsonValue(2))).map((values) => {
      const obj: Record<string, unknown> = {};
      // A name most of the time, so that validation reaches the other keys.
      if (!pairs.some(([k]) => k.toLowerCase() === "name")) Object.defineProperty(obj, "name", { value: "net-a", enumerable: true, writable: true, configurable: true });
      pairs.forEach(([k], i) => Object.defineProperty(obj, k, { value: values[i], enumerable: true, writable: true, configurable: true }));
      return obj;
    })) },
  { weight: 1, arbitrary: jsonValue(2) },
);

/** The JSON form: a list of elements (or, rarely, another value), compact or indented. */
const jsonForm = fc
  .tuple(fc.oneof({ weight: 18, arbitrary: fc.array(element, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: element }), fc.constantFrom(0, 2, "\t"))
  .map(([doc, indent]) => JSON.stringify(doc, null, indent));

/** The comma form: items of names, slashes, at signs and interface names, near-valid. */
const commaForm = fc
  .array(fc.oneof(nearLabel, ifName, fc.constantFrom("/", "@", ",", " ", "", "\t", "null", "%", "\\")), { maxLength: 10 })
  .map((parts) => parts.join(""))
  .filter((v) => !/[[{"]/.test(v));

/** A valid comma-form item and what it must parse to. */
const commaItem = fc.record({ namespace: fc.option(label, { nil: undefined }), name: label, iface: fc.option(fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/), { nil: undefined }), pad: fc.constantFrom("", " ", "  ", "\t") });

fuzzProperties(import.meta.url, {
  "any string: selections that are valid, or the documented error with a one-line message": fuzz(() => fc.property(fc.string({ unit: "binary", maxLength: 120 }), (v) => {
    check(v);
  }), { weight: 4 }),
  "near-valid comma form: the same, and only names, namespaces and interfaces": fuzz(() => fc.property(commaForm, (v) => {
    check(v);
  }), { weight: 6 }),
  "JSON lists of objects with the known keys (any case) holding values of any type: the same": fuzz(() => fc.property(jsonForm, (v) => {
    check(v);
  }), { weight: 10 }),
  "mutated JSON text (cut, flipped, spliced): the same, also for the default-network annotation": fuzz(() => fc.property(mutatedJsonText(fc.array(element, { minLength: 1, maxLength: 3 })), fc.boolean(), (v, other) => {
    check(v, other ? DEFAULT_NETWORK_ANNOTATION : NETWORKS_ANNOTATION);
  }), { weight: 4 }),
  "a valid comma form parses to exactly its items, whatever the white space": fuzz(() => fc.property(fc.array(commaItem, { minLength: 1, maxLength: 5 }), (items) => {
    const text = items.map((it) => `${it.pad}${it.namespace === undefined ? "" : `${it.namespace}${it.pad}/`}${it.pad}${it.name}${it.iface === undefined ? "" : `${it.pad}@${it.pad}${it.iface}`}${it.pad}`).join(",");
    const want = items.map((it, element): NetworkSelection => ({ name: it.name, namespace: it.namespace ?? POD_NS, element, ...(it.iface === undefined ? {} : { interface: it.iface }) }));
    assert.deepEqual(check(text), want);
  })),
  "the JSON form's keys match in any case: re-casing the keys of an accepted element changes nothing": fuzz(() => fc.property(jsonForm, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (v, up) => {
    const accepted = check(v);
    // Only lists are the JSON form ("false" is a network named false, in the comma form).
    if (accepted === undefined || accepted.length === 0 || !v.startsWith("[")) return;
    const doc = JSON.parse(v) as Record<string, unknown>[];
    const recased = doc.map((el) => Object.fromEntries(Object.entries(el).map(([k, val]) => [KNOWN.includes(k) ? recase(k, up, true) : k, val])));
    assert.deepEqual(check(JSON.stringify(recased)), accepted);
  }), { weight: 4 }),
});

fuzzExample("cni-args nested 10000 levels deep is refused (it would throw a RangeError when written into the delegate's config)", () => {
  const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
  const out = parse(`[{"name":"net-a","cni-args":${deep}}]`);
  assert.ok("error" in out, "refused");
  assert.match(out.error.message, /^pod team-a\/web-0: k8s\.v1\.cni\.cncf\.io\/networks: is not valid JSON \(line 1 column \d+: nested more than 512 levels deep\)/);
  // A deep list of lists in an unknown dotted key is refused the same way.
  assert.ok("error" in parse(`[{"name":"net-a","example.com/x":${"[".repeat(5000)}${"]".repeat(5000)}}]`));
});
