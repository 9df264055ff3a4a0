// Property and fuzz tests of the CNI result decoder (decodeResult in src/cni/result-decode.ts), which
// reads every delegate's stdout: any JSON value gives a result of a supported version or CniError 1
// (unsupported version) / 6 (invalid shape), never another exception; every result it gives is one
// it reads back unchanged, and can be printed.
import assert from "node:assert/strict";
import fc from "fast-check";
import { CniError } from "../../src/cni/cni-error.ts";
import { decodeResult } from "../../src/cni/result-decode.ts";
import type { CniResult } from "../../src/cni/types.ts";
import { ALL_VERSIONS, isSpecVersion } from "../../src/cni/version.ts";
import { fuzz, fuzzProperties, jsonValue, mutatedJson, outcomeOf } from "../helpers/fuzz.ts";

const CONF_VERSIONS = ["", ...ALL_VERSIONS, "2.0.0", "1.1", "x"];

function check(json: unknown, confVersion: string): CniResult | undefined {
  const out = outcomeOf(
    () => decodeResult(json, confVersion),
    (err) =>
      err instanceof CniError &&
      ((err.code === 1 && /^unsupported CNI result version "/.test(err.message)) || (err.code === 6 && err.message.startsWith("invalid CNI result: "))),
  );
  if ("error" in out) return undefined;
  const result = out.value;
  assert.ok(isSpecVersion(result.cniVersion), `version ${result.cniVersion}`);
  // What we hand on (print, cache, pass as prevResult) is a result we read back as it is.
  const printed = JSON.parse(JSON.stringify(result)) as unknown;
  assert.deepEqual(decodeResult(printed, "x"), result);
  return result;
}

// ---- generators: results near each version's layout, values of any type here and there ------------

/** Mostly valid values, some near-valid, a few of any type. */
function choice(valid: fc.Arbitrary<unknown>, near: fc.Arbitrary<unknown> = jsonValue(1)): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 40, arbitrary: valid }, { weight: 1, arbitrary: near }, { weight: 1, arbitrary: jsonValue(1) });
}
const validIp = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant("::ffff:10.1.2.3"));
const ip = choice(validIp, fc.constantFrom("fe80::1%eth0", "", "10.0.0.256", "1.2.3", "10.0.0.1/8"));
const cidr = choice(
  fc.oneof(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${String(p)}`), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${String(p)}`)),
  fc.oneof(validIp, fc.tuple(validIp, fc.integer({ min: 0, max: 200 })).map(([a, p]) => `${a}/${String(p)}`), fc.constantFrom("10.0.0.1/024", "10.0.0.1/", "/8", "::ffff:1.2.3.4/100")),
);
const int = choice(fc.nat(70_000), fc.constantFrom(-1, 1.5, 2 ** 53, -0.0));
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> => fc.option(a, { nil: undefined, freq: 3 }).chain((v) => (v === undefined ? fc.constantFrom(undefined, null) : fc.constant(v)));
const text = choice(fc.string({ maxLength: 8 }));
const strings = fc.array(text, { maxLength: 3 });
const dns = choice(fc.record({ nameservers: choice(strings), domain: text, search: choice(strings), options: choice(strings) }, { requiredKeys: [], noNullPrototype: true }));
const route = choice(fc.record({ dst: cidr, gw: ip, mtu: int, advmss: int, priority: int, table: int, scope: int }, { requiredKeys: ["dst"], noNullPrototype: true }));
const iface = choice(fc.record({ name: text, mac: text, mtu: int, sandbox: text, socketPath: text, pciID: text }, { requiredKeys: [], noNullPrototype: true }));
const ipEntry = choice(fc.record({ address: cidr, gateway: ip, interface: int, version: choice(fc.constantFrom("4", "6", ""), fc.constant("5")) }, { requiredKeys: ["address"], noNullPrototype: true }));
const version = choice(fc.constantFrom(...ALL_VERSIONS), fc.constantFrom("", "2.0.0", "0.3"));
const layout100 = fc.record({ cniVersion: version, interfaces: opt(fc.array(iface, { maxLength: 3 })), ips: opt(fc.array(ipEntry, { maxLength: 3 })), routes: opt(fc.array(route, { maxLength: 3 })), dns: opt(dns), extra: jsonValue(1) }, { requiredKeys: ["cniVersion"], noNullPrototype: true });
const ip020 = choice(fc.record({ ip: cidr, gateway: ip, routes: opt(fc.array(route, { maxLength: 2 })) }, { requiredKeys: ["ip"], noNullPrototype: true }));
const layout020 = fc.record({ cniVersion: choice(fc.constantFrom("0.1.0", "0.2.0"), version), ip4: opt(ip020), ip6: opt(ip020), dns: opt(dns) }, { requiredKeys: ["cniVersion"], noNullPrototype: true });
/** Undefined fields are left out, as JSON.parse of a plugin's stdout would give them. */
const result = fc.oneof(layout100, layout020).map((r) => JSON.parse(JSON.stringify(r)) as unknown);

fuzzProperties(import.meta.url, {
  "any JSON value, under any config version: a result or CniError 1/6": fuzz(() => fc.property(jsonValue(4), fc.constantFrom(...CONF_VERSIONS), (v, conf) => {
    check(v, conf);
  }), { weight: 4 }),
  "results near every version's layout, fields of any type: the same, and every result reads back unchanged": fuzz(() => fc.property(result, fc.constantFrom(...CONF_VERSIONS), (v, conf) => {
    check(v, conf);
  }), { weight: 10 }),
  "results with fields replaced, deleted or added anywhere: the same": fuzz(() => fc.property(mutatedJson(result), fc.constantFrom(...CONF_VERSIONS), (v, conf) => {
    check(v, conf);
  }), { weight: 6 }),
});
