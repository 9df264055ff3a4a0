// CNI-R-15: result conversion between every pair of spec versions (conformance.md §1b, §3 vectors).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CniCode, CniError } from "../../src/cni/cni-error.ts";
import { ipFamily } from "../../src/cni/ip-family.ts";
import { convertResult } from "../../src/cni/result-convert.ts";
import type { CniResult, Result020, Result040, Result100 } from "../../src/cni/types.ts";
import { ALL_VERSIONS } from "../../src/cni/version.ts";

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/results/${name}`, import.meta.url), "utf8"));
}
/** The result as a runtime would read it from our stdout. */
function printed(r: CniResult): unknown {
  return JSON.parse(JSON.stringify(r));
}
function withVersion<T extends CniResult>(r: T, cniVersion: string): T {
  return { ...r, cniVersion };
}

const bridge110 = fixture("bridge-1.1.0.json") as Result100;
const bridge040 = fixture("bridge-0.4.0.json") as Result040;
const bridge020 = fixture("bridge-0.2.0.json") as Result020;

/** §3: what the spec's bridge result (1.1.0) becomes in each version. */
const bridgeGolden: Record<string, CniResult> = {
  "1.1.0": bridge110,
  "1.0.0": withVersion(bridge110, "1.0.0"),
  "0.4.0": bridge040,
  "0.3.1": withVersion(bridge040, "0.3.1"),
  "0.3.0": withVersion(bridge040, "0.3.0"),
  "0.2.0": bridge020,
  "0.1.0": withVersion(bridge020, "0.1.0"),
};

for (const to of ALL_VERSIONS) {
  test(`CNI-R-15 the spec's bridge result 1.1.0 → ${to} matches the §3 vector`, () => {
    assert.deepEqual(printed(convertResult(bridge110, to)), bridgeGolden[to]);
  });
}

for (const from of ALL_VERSIONS) {
  for (const to of ALL_VERSIONS) {
    test(`CNI-R-15 bridge result ${from} → ${to} (every pair is connected)`, () => {
      const source = bridgeGolden[from];
      assert.ok(source !== undefined);
      const out = printed(convertResult(source, to));
      // Down to 0.x the §3 vector is reached from any version; going up from 0.1/0.2 loses the interfaces
      // (0.2 has none) and the interface index, which the 0.2 → later vector below pins down.
      if (from === "0.1.0" || from === "0.2.0") {
        if (to === "0.1.0" || to === "0.2.0") assert.deepEqual(out, bridgeGolden[to]);
        else assert.equal((out as { interfaces?: unknown }).interfaces, undefined);
      } else {
        assert.deepEqual(out, bridgeGolden[to]);
      }
      assert.equal((out as { cniVersion: string }).cniVersion, to);
    });
  }
}

const dualStack020: Result020 = {
  cniVersion: "0.2.0",
  ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
  ip6: { ip: "2001:db8::5/64" },
};

for (const to of ["1.0.0", "1.1.0"]) {
  test(`CNI-R-15 0.2.0 ip4+ip6 → ${to}: ip4 then ip6 in ips, no interface index, routes merged (§3)`, () => {
    assert.deepEqual(printed(convertResult(dualStack020, to)), {
      cniVersion: to,
      ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1" }, { address: "2001:db8::5/64" }],
      routes: [{ dst: "0.0.0.0/0" }],
    });
  });
}

for (const to of ["0.3.0", "0.3.1", "0.4.0"]) {
  test(`CNI-R-15 0.2.0 ip4+ip6 → ${to}: ips carry their family; routes of both families merged in order`, () => {
    const src: Result020 = {
      ...dualStack020,
      cniVersion: "0.1.0",
      ip6: { ip: "2001:db8::5/64", routes: [{ dst: "::/0", gw: "2001:db8::1" }] },
    };
    assert.deepEqual(printed(convertResult(src, to)), {
      cniVersion: to,
      ips: [
        { version: "4", address: "10.1.0.5/16", gateway: "10.1.0.1" },
        { version: "6", address: "2001:db8::5/64" },
      ],
      routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0", gw: "2001:db8::1" }],
      dns: {},
    });
  });
}

for (const from of ["1.0.0", "1.1.0", "0.4.0", "0.3.1", "0.3.0"]) {
  for (const to of ["0.2.0", "0.1.0"]) {
    test(`CNI-R-15 ${from} with interfaces but no IPs → ${to} fails: cannot convert: no valid IP addresses`, () => {
      const src = { cniVersion: from, interfaces: [{ name: "eth0" }] };
      assert.throws(
        () => convertResult(src, to),
        (err: unknown) => err instanceof CniError && err.message === "cannot convert: no valid IP addresses" && err.code === CniCode.IncompatibleVersion,
      );
    });
  }
}

const rich110: Result100 = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "net1", mac: "0a:58:0a:01:00:05", mtu: 9000, sandbox: "/var/run/netns/x", socketPath: "/run/vhost.sock", pciID: "0000:3b:00.1" },
  ],
  ips: [
    { address: "2001:db8::5/64", interface: 0 },
    { address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 0 },
    { address: "10.2.0.5/16", interface: 0 },
    { address: "2001:db8:1::5/64", interface: 0 },
  ],
  routes: [
    { dst: "10.9.0.0/16", gw: "10.1.0.254", mtu: 1400, advmss: 1360, priority: 10, table: 0, scope: 0 },
    { dst: "2001:db8:9::/48", gw: "2001:db8::1", table: 100 },
  ],
  dns: { nameservers: ["10.1.0.1"], domain: "example.com", search: ["example.com"], options: ["ndots:2"] },
};

for (const to of ["0.3.0", "0.3.1", "0.4.0"]) {
  test(`CNI-R-15 1.1.0 → ${to} drops interface mtu/pciID/socketPath, adds ips[].version; route mtu/table/scope survive`, () => {
    assert.deepEqual(printed(convertResult(rich110, to)), {
      cniVersion: to,
      interfaces: [{ name: "net1", mac: "0a:58:0a:01:00:05", sandbox: "/var/run/netns/x" }],
      ips: [
        { version: "6", interface: 0, address: "2001:db8::5/64" },
        { version: "4", interface: 0, address: "10.1.0.5/16", gateway: "10.1.0.1" },
        { version: "4", interface: 0, address: "10.2.0.5/16" },
        { version: "6", interface: 0, address: "2001:db8:1::5/64" },
      ],
      routes: rich110.routes,
      dns: rich110.dns,
    });
  });
}

test("CNI-R-15 1.1.0 → 1.0.0 → 1.1.0 changes the version only", () => {
  const down = convertResult(rich110, "1.0.0");
  assert.deepEqual(printed(down), { ...rich110, cniVersion: "1.0.0" });
  assert.deepEqual(printed(convertResult(down, "1.1.0")), rich110);
});

for (const to of ["1.0.0", "1.1.0"]) {
  test(`CNI-R-15 0.4.0 → ${to} drops ips[].version and keeps the interface index`, () => {
    const out = printed(convertResult(convertResult(rich110, "0.4.0"), to));
    assert.deepEqual(out, {
      cniVersion: to,
      interfaces: [{ name: "net1", mac: "0a:58:0a:01:00:05", sandbox: "/var/run/netns/x" }],
      ips: rich110.ips,
      routes: rich110.routes,
      dns: rich110.dns,
    });
  });
}

for (const to of ["0.1.0", "0.2.0"]) {
  test(`CNI-R-15 1.1.0 → ${to} keeps the first IPv4 and first IPv6 only; routes split by family, dst/gw only`, () => {
    assert.deepEqual(printed(convertResult(rich110, to)), {
      cniVersion: to,
      ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "10.9.0.0/16", gw: "10.1.0.254" }] },
      ip6: { ip: "2001:db8::5/64", routes: [{ dst: "2001:db8:9::/48", gw: "2001:db8::1" }] },
      dns: rich110.dns,
    });
  });
}

test("CNI-R-15 → 0.2.0 drops routes whose family has no address", () => {
  const v4only: Result100 = { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/16" }], routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }] };
  assert.deepEqual(printed(convertResult(v4only, "0.2.0")), {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.5/16", routes: [{ dst: "0.0.0.0/0" }] },
    dns: {},
  });
});

// §1b CNI-R-15: "0.4 prints "dns":{}, 1.x omits empty dns" — a property of the object, so JSON.stringify does it.
for (const to of ALL_VERSIONS) {
  const expectDns = !to.startsWith("1.");
  test(`CNI-R-15 an empty dns is ${expectDns ? 'printed as "dns":{}' : "omitted"} in ${to}`, () => {
    for (const src of [
      { cniVersion: "1.1.0", ips: [{ address: "10.1.0.5/16" }] },
      { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/16" }], dns: { nameservers: [], search: [] } },
      { cniVersion: "0.4.0", ips: [{ version: "4" as const, address: "10.1.0.5/16" }], dns: {} },
      { cniVersion: "0.2.0", ip4: { ip: "10.1.0.5/16" } },
    ]) {
      const json = JSON.stringify(convertResult(src, to));
      assert.equal(json.includes('"dns":{}'), expectDns, json);
      if (!expectDns) assert.ok(!json.includes('"dns"'), json);
    }
  });
}

test("CNI-R-15 an IPv4-mapped IPv6 address counts as IPv4 (Go To4), like libcni", () => {
  assert.equal(ipFamily("::ffff:10.1.0.5"), 4);
  assert.equal(ipFamily("0:0:0:0:0:FFFF:0a01:0005"), 4);
  assert.equal(ipFamily("::ffff:0:10.1.0.5"), 6);
  assert.equal(ipFamily("2001:db8::5"), 6);
  assert.equal(ipFamily("10.1.0.5"), 4);
  assert.equal(ipFamily("fe80::1%eth0"), undefined);
  assert.equal(ipFamily("nope"), undefined);
  assert.equal(ipFamily("10.1.0.5/16"), 4);
  assert.equal(ipFamily("2001:db8::5/64"), 6);
  const out = convertResult({ cniVersion: "1.1.0", ips: [{ address: "::ffff:10.1.0.5/120" }] }, "0.4.0") as Result040;
  assert.equal(out.ips?.[0]?.version, "4");
});

test("CNI-R-15 versions outside ALL_VERSIONS are refused; an empty target means 0.1.0", () => {
  assert.throws(() => convertResult(bridge110, "2.0.0"), { code: CniCode.IncompatibleVersion, message: "no converter for CNI result version 1.1.0 to 2.0.0" });
  assert.throws(() => convertResult({ ...bridge110, cniVersion: "0.5.0" }, "1.1.0"), { message: "no converter for CNI result version 0.5.0 to 1.1.0" });
  assert.deepEqual(printed(convertResult(bridge110, "")), bridgeGolden["0.1.0"]);
});

test("CNI-R-15 conversion returns a fresh object and leaves its input alone", () => {
  const before = structuredClone(rich110);
  for (const to of ALL_VERSIONS) {
    const out = convertResult(rich110, to) as Result100;
    if (out.interfaces?.[0] !== undefined) out.interfaces[0].name = "changed";
    if (out.routes?.[0] !== undefined) out.routes[0].dst = "1.1.1.1/32";
    if (out.dns?.nameservers !== undefined) out.dns.nameservers.push("9.9.9.9");
  }
  assert.deepEqual(rich110, before);
});
