// CNI-R-07: a delegate's stdout as a CNI result (libcni fixupResultVersion + create.Create), and the
// shape checks that stand in for Go's typed unmarshalling.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CniCode, CniError } from "../../src/cni/cni-error.ts";
import { decodeResult } from "../../src/cni/result-decode.ts";
import { ALL_VERSIONS } from "../../src/cni/version.ts";

/** Decode a result exactly as it arrives: raw stdout text. */
function decodeText(stdout: string, confVersion: string): unknown {
  return JSON.parse(JSON.stringify(decodeResult(JSON.parse(stdout), confVersion)));
}

function isZeroX(v: string): boolean {
  return v.startsWith("0.");
}

for (const conf of ALL_VERSIONS) {
  test(`CNI-R-07 a plugin that prints {} under a ${conf} config yields an empty ${conf} result`, () => {
    const expected = isZeroX(conf) ? { cniVersion: conf, dns: {} } : { cniVersion: conf };
    assert.deepEqual(decodeText("{}", conf), expected);
    // libcni: `null` stdout is an empty object, and an empty or non-string cniVersion is replaced too.
    assert.deepEqual(decodeText("null", conf), expected);
    assert.deepEqual(decodeText('{"cniVersion":""}', conf), expected);
    assert.deepEqual(decodeText('{"cniVersion":4}', conf), expected);
  });
}

for (const own of ALL_VERSIONS) {
  test(`CNI-R-07 a result that states ${own} keeps it whatever the config's version (no conversion at decode)`, () => {
    const stdout = own.startsWith("0.1") || own.startsWith("0.2")
      ? `{"cniVersion":"${own}","ip4":{"ip":"10.1.0.5/16"}}`
      : `{"cniVersion":"${own}","ips":[{"address":"10.1.0.5/16"}]}`;
    for (const conf of ["1.1.0", "0.3.1"]) {
      assert.equal((decodeText(stdout, conf) as { cniVersion: string }).cniVersion, own);
    }
  });
}

test("CNI-R-07 an empty config version means 0.1.0", () => {
  assert.deepEqual(decodeText("{}", ""), { cniVersion: "0.1.0", dns: {} });
});

test('CNI-R-07 an unknown result version fails: unsupported CNI result version "2.0.0"', () => {
  for (const [stdout, conf] of [
    ['{"cniVersion":"2.0.0","ips":[]}', "1.1.0"],
    ["{}", "2.0.0"],
  ] as const) {
    assert.throws(
      () => decodeResult(JSON.parse(stdout), conf),
      (err: unknown) =>
        err instanceof CniError && err.code === CniCode.IncompatibleVersion && err.message === 'unsupported CNI result version "2.0.0"',
    );
  }
});

for (const v of ALL_VERSIONS) {
  test(`CNI-R-07 the spec's bridge result in ${v} decodes to itself`, () => {
    const file = v.startsWith("1.") ? "bridge-1.1.0.json" : v === "0.1.0" || v === "0.2.0" ? "bridge-0.2.0.json" : "bridge-0.4.0.json";
    const golden = { ...(JSON.parse(readFileSync(new URL(`../fixtures/results/${file}`, import.meta.url), "utf8")) as object), cniVersion: v };
    assert.deepEqual(decodeText(JSON.stringify(golden), "1.1.0"), golden);
  });
}

test("CNI-R-07 unknown keys are dropped at every level, and keys of another version's layout too", () => {
  const out = decodeText(
    JSON.stringify({
      cniVersion: "0.4.0",
      extra: true,
      interfaces: [{ name: "eth0", mtu: 1500, pciID: "0000:00:01.0", vendor: "x" }],
      ips: [{ version: "4", address: "10.1.0.5/16", note: "x" }],
      routes: [{ dst: "0.0.0.0/0", weight: 3 }],
      dns: { nameservers: ["10.1.0.1"], rotate: true },
    }),
    "0.4.0",
  );
  assert.deepEqual(out, {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0" }],
    ips: [{ version: "4", address: "10.1.0.5/16" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.1.0.1"] },
  });
  const v1 = decodeText('{"cniVersion":"1.0.0","ips":[{"version":"4","address":"10.1.0.5/16"}],"ip4":{"ip":"1.2.3.4/8"}}', "1.0.0");
  assert.deepEqual(v1, { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/16" }] });
});

test("CNI-R-07 Go's omitempty: empty strings, zero mtu/advmss/priority and empty lists vanish; table/scope/interface 0 stay", () => {
  const out = decodeText(
    JSON.stringify({
      cniVersion: "1.1.0",
      interfaces: [{ name: "eth0", mac: "", mtu: 0, sandbox: "", socketPath: "", pciID: "" }],
      ips: [{ address: "10.1.0.5/16", gateway: "", interface: 0 }],
      routes: [{ dst: "0.0.0.0/0", gw: "", mtu: 0, advmss: 0, priority: 0, table: 0, scope: 0 }],
      dns: { nameservers: [], domain: "", search: null },
    }),
    "1.1.0",
  );
  assert.deepEqual(out, {
    cniVersion: "1.1.0",
    interfaces: [{ name: "eth0" }],
    ips: [{ interface: 0, address: "10.1.0.5/16" }],
    routes: [{ dst: "0.0.0.0/0", table: 0, scope: 0 }],
  });
  assert.deepEqual(decodeText('{"cniVersion":"0.4.0","interfaces":[],"ips":[],"routes":[]}', "0.4.0"), { cniVersion: "0.4.0", dns: {} });
});

test("CNI-R-07 a 0.3/0.4 IP without `version` gets it from its address; libcni tolerates the omission", () => {
  const out = decodeText('{"cniVersion":"0.3.1","ips":[{"address":"2001:db8::5/64"},{"address":"10.1.0.5/16","version":""}]}', "0.3.1");
  assert.deepEqual(out, {
    cniVersion: "0.3.1",
    ips: [
      { version: "6", address: "2001:db8::5/64" },
      { version: "4", address: "10.1.0.5/16" },
    ],
    dns: {},
  });
});

// A present field of the wrong shape is a decoding failure (6) whose message names the field.
const shapeErrors: [version: string, stdout: string, message: string][] = [
  ["1.1.0", "[]", "invalid CNI result: must be a JSON object, got an array"],
  ["1.1.0", '"ok"', 'invalid CNI result: must be a JSON object, got "ok"'],
  ["1.1.0", '{"ips":{}}', "invalid CNI result: ips: must be an array, got an object"],
  ["1.1.0", '{"ips":[{}]}', "invalid CNI result: ips[0].address: is missing"],
  ["1.0.0", '{"ips":[{"address":"10.1.0.5"}]}', "invalid CNI result: ips[0].address: invalid CIDR address: 10.1.0.5"],
  ["1.0.0", '{"ips":[{"address":"10.1.0.5/33"}]}', "invalid CNI result: ips[0].address: invalid CIDR address: 10.1.0.5/33"],
  ["1.0.0", '{"ips":[{"address":"2001:db8::5/129"}]}', "invalid CNI result: ips[0].address: invalid CIDR address: 2001:db8::5/129"],
  ["1.1.0", '{"ips":[{"address":"10.1.0.5/16","gateway":"10.1.0"}]}', "invalid CNI result: ips[0].gateway: invalid IP address: 10.1.0"],
  ["1.1.0", '{"ips":[{"address":"10.1.0.5/16","interface":"2"}]}', 'invalid CNI result: ips[0].interface: must be an integer, got "2"'],
  ["1.1.0", '{"ips":[{"address":"10.1.0.5/16","interface":1.5}]}', "invalid CNI result: ips[0].interface: must be an integer, got 1.5"],
  ["1.1.0", '{"ips":[{"address":"10.1.0.5/16","interface":-1}]}', "invalid CNI result: ips[0].interface: must be a non-negative index, got -1"],
  ["1.1.0", '{"interfaces":[{"name":"eth0"},"eth1"]}', 'invalid CNI result: interfaces[1]: must be an object, got "eth1"'],
  ["1.1.0", '{"interfaces":[{"name":"eth0","mtu":"1500"}]}', 'invalid CNI result: interfaces[0].mtu: must be an integer, got "1500"'],
  ["1.1.0", '{"interfaces":[{"name":7}]}', "invalid CNI result: interfaces[0].name: must be a string, got 7"],
  ["1.1.0", '{"routes":[{"gw":"10.1.0.1"}]}', "invalid CNI result: routes[0].dst: is missing"],
  ["1.1.0", '{"routes":[{"dst":"default"}]}', "invalid CNI result: routes[0].dst: invalid CIDR address: default"],
  ["1.1.0", '{"routes":[{"dst":"0.0.0.0/0","table":"main"}]}', 'invalid CNI result: routes[0].table: must be an integer, got "main"'],
  ["1.1.0", '{"dns":{"nameservers":"10.1.0.1"}}', 'invalid CNI result: dns.nameservers: must be an array, got "10.1.0.1"'],
  ["1.1.0", '{"dns":{"search":["a",1]}}', "invalid CNI result: dns.search[1]: must be a string, got 1"],
  ["0.4.0", '{"ips":[{"version":"5","address":"10.1.0.5/16"}]}', 'invalid CNI result: ips[0].version: must be "4" or "6", got "5"'],
  ["0.4.0", '{"ips":[{"version":4,"address":"10.1.0.5/16"}]}', "invalid CNI result: ips[0].version: must be \"4\" or \"6\", got 4"],
  ["0.2.0", '{"ip4":"10.1.0.5/16"}', 'invalid CNI result: ip4: must be an object, got "10.1.0.5/16"'],
  ["0.2.0", '{"ip4":{"ip":"10.1.0.5/16","routes":[{"dst":"x"}]}}', "invalid CNI result: ip4.routes[0].dst: invalid CIDR address: x"],
  ["0.1.0", '{"ip6":{"gateway":"2001:db8::1"}}', "invalid CNI result: ip6.ip: is missing"],
];
for (const [version, stdout, message] of shapeErrors) {
  test(`CNI-R-07 ${version} result ${stdout} → code 6 naming the field`, () => {
    assert.throws(
      () => decodeResult(JSON.parse(stdout), version),
      (err: unknown) => err instanceof CniError && err.code === CniCode.DecodingFailure && err.message === message,
    );
  });
}
