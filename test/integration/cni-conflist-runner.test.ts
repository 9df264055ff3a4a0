// The libcni-like runner against fake plugins: request building, chaining, caching, DEL/CHECK/GC/STATUS
// semantics, locking and deadlines. Fakes are used because every case here needs a plugin that records
// exactly what it received or fails on purpose; GC and STATUS need fakes in any case because Debian's
// reference plugins (1.1.1) support CNI only up to 1.0.0. The real plugins are driven in
// cni-reference-plugins.test.ts.
// Run: node --test --test-concurrency=1 test/integration/cni-conflist-runner.test.ts
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { CniError } from "../../src/cni/cni-error.ts";
import { ConflistRunner, parseNetworkConfig, parseNetworkConfigList } from "../../src/cni/conflist-runner.ts";
import type { NetworkConfigList, RuntimeConf } from "../../src/cni/conflist-runner.ts";
import type { CniLogger } from "../../src/cni/exec-plugin.ts";
import { ResultCache } from "../../src/cni/result-cache.ts";
import { convertResult } from "../../src/cni/result-convert.ts";
import type { Result100 } from "../../src/cni/types.ts";
import { FakePluginDir } from "../helpers/fake-plugin.ts";
import type { Invocation } from "../helpers/fake-plugin.ts";

const CONTAINERD = new URL("../fixtures/cache/containerd/", import.meta.url).pathname;
// Fakes never enter a namespace, but the runner checks that CNI_NETNS exists before ADD/CHECK: plain
// files stand in for the pod's and a second pod's namespace.
const POD_NETNS = join(tmpdir(), `mt-runner-pod-netns-${String(process.pid)}`);
const STALE_NETNS = join(tmpdir(), `mt-runner-stale-netns-${String(process.pid)}`);

let fakes: FakePluginDir;
let cacheDir = "";
let logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
const logger: CniLogger = {
  debug: (fields, msg) => logs.push({ level: "debug", msg, fields }),
  info: (fields, msg) => logs.push({ level: "info", msg, fields }),
  warn: (fields, msg) => logs.push({ level: "warn", msg, fields }),
};

// What the three chain plugins print on ADD. R3 has no cniVersion: it takes the list's (CNI-R-07).
const R1 = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: "/var/run/netns/x" }], ips: [{ address: "10.0.0.2/24", interface: 0 }] };
const R2 = { cniVersion: "0.4.0", interfaces: [{ name: "eth0" }], ips: [{ version: "4", address: "10.0.0.2/24", interface: 0 }], dns: {} };
const R3 = { interfaces: [{ name: "eth0", mac: "0a:58:0a:00:00:03" }], ips: [{ address: "10.0.0.3/24", gateway: "10.0.0.1", interface: 0 }] };

async function resetFakes(): Promise<void> {
  await fakes.add({ name: "p1", on: { ADD: { stdout: JSON.stringify(R1), stderr: "p1 says hi\n" } } });
  await fakes.add({ name: "p2", on: { ADD: { stdout: JSON.stringify(R2) } } });
  await fakes.add({ name: "p3", on: { ADD: { stdout: JSON.stringify(R3) } } });
  await fakes.clear();
}

before(async () => {
  fakes = await FakePluginDir.create();
  await writeFile(POD_NETNS, "");
  await writeFile(STALE_NETNS, "");
});
after(async () => {
  await fakes.remove();
  await rm(POD_NETNS, { force: true });
  await rm(STALE_NETNS, { force: true });
});
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), "mt-runner-"));
  logs = [];
  await resetFakes();
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

function runner(timeoutMs = 5000): ConflistRunner {
  return new ConflistRunner({ cacheDir, pluginDirs: [fakes.binDir], timeoutMs, logger, env: { PATH: "/usr/bin:/bin", KEEP: "me" } });
}

function chain(version: string | { cniVersion?: string; cniVersions?: string[] }, extra: Record<string, unknown> = {}): NetworkConfigList {
  const v = typeof version === "string" ? { cniVersion: version } : version;
  return parseNetworkConfigList(
    JSON.stringify({
      ...v,
      name: "testnet",
      ...extra,
      plugins: [
        { type: "p1", name: "first", capabilities: { portMappings: true }, runtimeConfig: { stale: true } },
        { type: "p2", name: "second", cniVersion: "0.1.0", custom: { keep: 1 } },
        { type: "p3", capabilities: { mac: true, bandwidth: false } },
      ],
    }),
  );
}

const RT: RuntimeConf = {
  containerId: "c0ffee01",
  netns: POD_NETNS,
  ifName: "eth0",
  args: [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAME", "web-0"],
  ],
  capabilityArgs: { portMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp" }], mac: "0a:58:0a:00:00:03", bandwidth: { ingressRate: 1 } },
};

async function calls(): Promise<Invocation[]> {
  return fakes.invocations();
}

function summary(invs: Invocation[]): string[] {
  return invs.map((i) => `${i.plugin}:${i.command}`);
}

async function rejects(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CniError, `expected a CniError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

async function cacheFiles(): Promise<string[]> {
  return readdir(join(cacheDir, "results")).catch(() => []);
}

test("CNI-R-03 CNI-R-16 pre-ADD validation: container ID, network name, ifname, netns (libcni leaves the netns to plugins) — and nothing runs", async () => {
  const r = runner();
  const cases: [RuntimeConf, NetworkConfigList, number, string][] = [
    [{ ...RT, containerId: "" }, chain("1.0.0"), 3, "missing containerID"],
    [{ ...RT, containerId: "1234%%%" }, chain("1.0.0"), 4, "invalid characters in containerID"],
    [{ ...RT, ifName: "a b" }, chain("1.0.0"), 4, "interface name contains / or : or whitespace characters"],
    [{ ...RT, ifName: "testnamemorethan16" }, chain("1.0.0"), 4, "interface name is too long"],
    [{ ...RT, ifName: "" }, chain("1.0.0"), 4, "interface name is empty"],
    [RT, chain("1.0.0", { name: "bad name" }), 7, "invalid characters found in network name"],
    [RT, chain("1.0.0", { name: "" }), 7, "missing network name"],
    // CNI-R-16: the namespace must exist before any plugin runs.
    [{ ...RT, netns: "" }, chain("1.0.0"), 8, "missing network namespace path (CNI_NETNS)"],
    [{ ...RT, netns: "/var/run/netns/mt-does-not-exist" }, chain("1.0.0"), 8, 'network namespace "/var/run/netns/mt-does-not-exist" does not exist'],
  ];
  for (const [rt, list, code, msg] of cases) {
    const e = await rejects(r.addNetworkList(list, rt));
    assert.equal(e.code, code, msg);
    assert.equal(e.message, msg);
  }
  assert.deepEqual(await calls(), []);
  assert.deepEqual(await cacheFiles(), []);
});

test("CNI-R-01 a missing plugin fails the ADD before any plugin runs (libcni would run the ones before it)", async () => {
  const list = parseNetworkConfigList(JSON.stringify({ cniVersion: "1.0.0", name: "testnet", plugins: [{ type: "p1" }, { type: "nope" }] }));
  const e = await rejects(runner().addNetworkList(list, RT));
  assert.equal(e.message, `plugin type="nope" failed (add): failed to find plugin "nope" in path [${fakes.binDir}]`);
  assert.deepEqual(await calls(), []);
  const bad = parseNetworkConfigList(JSON.stringify({ cniVersion: "1.0.0", name: "testnet", plugins: [{ type: "../p1" }] }));
  assert.equal((await rejects(runner().addNetworkList(bad, RT))).code, 7);
});

test("CNI-R-04 CNI-R-05 CNI-R-06 NPWG-24 ADD chain: requests (name and cniVersion injected per plugin), raw prevResult hand-over, final result, cache", async () => {
  const list = chain({ cniVersion: "1.0.0", cniVersions: ["0.4.0", "1.1.0", "9.9.9"] });
  const result = await runner().addNetworkList(list, RT);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p1:ADD", "p2:ADD", "p3:ADD"]);
  const [q1, q2, q3] = invs.map((i) => i.request());
  // Name and version are the list's (version: highest of cniVersion ∪ cniVersions up to 1.1.0).
  for (const q of [q1, q2, q3]) {
    assert.equal(q?.name, "testnet");
    assert.equal(q.cniVersion, "1.1.0");
  }
  assert.equal(q1 !== undefined && "prevResult" in q1, false);
  // Raw, unconverted: p2 receives p1's 1.0.0 result, p3 receives p2's 0.4.0 result.
  assert.deepEqual(q2?.prevResult, R1);
  assert.deepEqual(q3?.prevResult, R2);
  // runtimeConfig: only declared-true capabilities the runtime supplied, Go keys re-cased, replacing.
  assert.deepEqual(q1?.runtimeConfig, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] });
  assert.equal("runtimeConfig" in q2, false);
  assert.deepEqual(q3.runtimeConfig, { mac: "0a:58:0a:00:00:03" });
  // Unknown keys and capabilities pass through.
  assert.deepEqual(q2.custom, { keep: 1 });
  assert.deepEqual(q3.capabilities, { mac: true, bandwidth: false });
  // Env: the same attachment variables for every plugin.
  for (const inv of invs) {
    assert.equal(inv.env.CNI_CONTAINERID, "c0ffee01");
    assert.equal(inv.env.CNI_NETNS, POD_NETNS);
    assert.equal(inv.env.CNI_IFNAME, "eth0");
    assert.equal(inv.env.CNI_ARGS, "IgnoreUnknown=1;K8S_POD_NAME=web-0");
    assert.equal(inv.env.CNI_PATH, fakes.binDir);
    assert.equal(inv.env.KEEP, "me");
  }
  // CNI-R-07: the last result had no cniVersion: it is the list's.
  assert.deepEqual(result, { cniVersion: "1.1.0", ...R3 });
  // The cache holds the final result and everything a later DEL/GC needs.
  const cached = await new ResultCache(cacheDir).read({ networkName: "testnet", containerId: "c0ffee01", ifName: "eth0" });
  if (cached.state !== "ok") assert.fail(`cache entry is ${cached.state}`);
  assert.deepEqual(cached.entry.config, list.bytes);
  assert.equal(cached.entry.netns, POD_NETNS);
  assert.deepEqual(cached.entry.cniArgs, RT.args);
  assert.deepEqual(cached.entry.capabilityArgs, RT.capabilityArgs);
  assert.deepEqual(cached.entry.result, result);
});

test("CNI-R-08 plugin stderr reaches the injected logger with the plugin's identity", async () => {
  await runner().addNetworkList(chain("1.0.0"), RT);
  const line = logs.find((l) => l.msg === "plugin stderr");
  assert.deepEqual(line?.fields, { plugin: "p1", command: "ADD", containerId: "c0ffee01", ifName: "eth0", line: "p1 says hi" });
});

test("CNI-R-06 CNI-R-08 the first failing plugin stops the chain, keeps its code, writes no cache", async () => {
  await fakes.setBehaviour("p2", "ADD", { stdout: '{"code":7,"msg":"bad config","details":"field x"}', exitCode: 1 });
  const e = await rejects(runner().addNetworkList(chain("1.0.0"), RT));
  assert.equal(e.code, 7);
  assert.equal(e.message, 'plugin type="p2" name="second" failed (add): bad config');
  assert.equal(e.details, "field x");
  assert.deepEqual(summary(await calls()), ["p1:ADD", "p2:ADD"]);
  assert.deepEqual(await cacheFiles(), []);
});

test("CNI-R-07 results: {} takes the list version; an unknown version or non-JSON fails", async () => {
  for (const v of ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
    await fakes.setBehaviour("p3", "ADD", { stdout: "{}" });
    const res = await runner().addNetworkList(chain(v), { ...RT, containerId: `c-${v}` });
    assert.equal(res.cniVersion, v);
  }
  await fakes.setBehaviour("p3", "ADD", { stdout: '{"cniVersion":"2.0.0"}' });
  const e = await rejects(runner().addNetworkList(chain("1.0.0"), RT));
  assert.equal(e.message, 'plugin type="p3" failed (add): unsupported CNI result version "2.0.0"');
  await fakes.setBehaviour("p3", "ADD", { stdout: "oops" });
  const e2 = await rejects(runner().addNetworkList(chain("1.0.0"), RT));
  assert.match(e2.message, /^plugin type="p3" failed \(add\): failed to unmarshal raw result: /);
});

for (const version of ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
  test(`CNI-R-10 DEL runs in reverse order with the cached result in the list version (${version})`, async () => {
    // A 1.0.0 final result, so that the DEL of a 0.4.0 list must really convert it.
    await fakes.setBehaviour("p3", "ADD", { stdout: JSON.stringify({ cniVersion: "1.0.0", ...R3 }) });
    const r = runner();
    const list = chain(version);
    const added = await r.addNetworkList(list, RT);
    await fakes.clear();
    await r.delNetworkList(list, RT);
    const invs = await calls();
    assert.deepEqual(summary(invs), ["p3:DEL", "p2:DEL", "p1:DEL"]);
    for (const inv of invs) {
      const q = inv.request();
      assert.equal(q.cniVersion, version);
      if (version === "0.3.1") {
        // prevResult on DEL arrived with 0.4.0.
        assert.equal("prevResult" in q, false);
      } else {
        assert.deepEqual(q.prevResult, convertResult(added, version));
        assert.equal((q.prevResult as { cniVersion: string }).cniVersion, version);
      }
      // DEL gets the same runtime parameters as ADD.
      assert.equal(inv.env.CNI_ARGS, "IgnoreUnknown=1;K8S_POD_NAME=web-0");
    }
    if (version === "0.4.0") {
      const prev = invs[0]?.request().prevResult as { ips: { version: string }[] };
      assert.equal(prev.ips[0]?.version, "4");
    }
    assert.deepEqual(await cacheFiles(), []);
  });
}

test("CNI-R-02 between ADD and DEL of one attachment only CNI_COMMAND changes in the env", async () => {
  const r = runner();
  await r.addNetworkList(chain("1.0.0"), RT);
  await r.delNetworkList(chain("1.0.0"), RT);
  const invs = await calls();
  const add = invs.find((i) => i.plugin === "p1" && i.command === "ADD");
  const del = invs.find((i) => i.plugin === "p1" && i.command === "DEL");
  assert.ok(add && del);
  const keys = new Set([...Object.keys(add.env), ...Object.keys(del.env)]);
  const differing = [...keys].filter((k) => add.env[k] !== del.env[k]);
  assert.deepEqual(differing, ["CNI_COMMAND"]);
});

test("CNI-R-10 DEL after a failed ADD runs every plugin without prevResult; repeated DEL is fine", async () => {
  await fakes.setBehaviour("p3", "ADD", { exitCode: 1, stderr: "no\n" });
  const r = runner();
  await rejects(r.addNetworkList(chain("1.0.0"), RT));
  await fakes.clear();
  await r.delNetworkList(chain("1.0.0"), RT);
  await r.delNetworkList(chain("1.0.0"), RT);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p3:DEL", "p2:DEL", "p1:DEL", "p3:DEL", "p2:DEL", "p1:DEL"]);
  for (const inv of invs) assert.equal("prevResult" in inv.request(), false);
});

test("CNI-R-10 a failing DEL stops, keeps its code and the cache; a retried DEL completes and removes it", async () => {
  const r = runner();
  await r.addNetworkList(chain("1.0.0"), RT);
  await fakes.setBehaviour("p2", "DEL", { stdout: '{"code":11,"msg":"busy"}', exitCode: 1 });
  await fakes.clear();
  const e = await rejects(r.delNetworkList(chain("1.0.0"), RT));
  assert.equal(e.code, 11);
  assert.equal(e.message, 'plugin type="p2" name="second" failed (delete): busy');
  assert.deepEqual(summary(await calls()), ["p3:DEL", "p2:DEL"]);
  assert.deepEqual(await cacheFiles(), ["testnet-c0ffee01-eth0"]);
  await fakes.setBehaviour("p2", "DEL", {});
  await fakes.clear();
  await r.delNetworkList(chain("1.0.0"), RT);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p3:DEL", "p2:DEL", "p1:DEL"]);
  // The retry still had the cached result.
  assert.ok("prevResult" in (invs[0]?.request() ?? {}));
  assert.deepEqual(await cacheFiles(), []);
});

test("CNI-R-10 a corrupt cache file is deleted and DEL goes on without prevResult", async () => {
  await mkdir(join(cacheDir, "results"), { recursive: true });
  await writeFile(join(cacheDir, "results", "testnet-c0ffee01-eth0"), '{"kind":"cniCacheV1","containerId":"c0ff');
  await runner().delNetworkList(chain("1.0.0"), RT);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p3:DEL", "p2:DEL", "p1:DEL"]);
  for (const inv of invs) assert.equal("prevResult" in inv.request(), false);
  assert.deepEqual(await cacheFiles(), []);
  assert.ok(logs.some((l) => l.level === "warn" && l.msg === "removing unusable cached result"));
});

test("CNI-R-09 CNI-R-10 DEL of an attachment containerd (Go libcni) cached uses its result as prevResult", async () => {
  await mkdir(join(cacheDir, "results"), { recursive: true });
  const id = "9cec424976bd3bd7e4d5128b7a5a3af32911fd43b12b9a8b6e7bfdb8823ba9b3";
  const name = `multus-cni-network-${id}-eth0`;
  await copyFile(join(CONTAINERD, "results", name), join(cacheDir, "results", name));
  const list = parseNetworkConfigList(JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", plugins: [{ type: "p1" }, { type: "p2" }] }));
  const rt: RuntimeConf = { containerId: id, netns: "", ifName: "eth0" };
  const cached = await runner().getCachedResult(list, rt);
  assert.deepEqual((cached as Result100 | undefined)?.ips, [{ address: "10.244.0.2/24", gateway: "10.244.0.1", interface: 2 }]);
  await runner().delNetworkList(list, rt);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p2:DEL", "p1:DEL"]);
  assert.deepEqual(invs[0]?.request().prevResult, cached);
  assert.equal(invs[0]?.env.CNI_NETNS, "");
  assert.deepEqual(await cacheFiles(), []);
});

test("CNI-R-11 CHECK: version gate, disableCheck, cached prevResult required (libcni would run without), order, first error", async () => {
  const r = runner();
  const old = chain("0.3.1");
  const e = await rejects(r.checkNetworkList(old, RT));
  assert.equal(e.message, 'configuration version "0.3.1" does not support the CHECK command');
  await r.checkNetworkList(chain("1.0.0", { disableCheck: true }), RT);
  // Never CHECK an attachment that was not ADDed.
  const e2 = await rejects(r.checkNetworkList(chain("1.0.0"), RT));
  assert.equal(e2.code, 3);
  assert.deepEqual(await calls(), []);
  const added = await r.addNetworkList(chain("1.0.0"), RT);
  await fakes.clear();
  await r.checkNetworkList(chain("1.0.0"), RT);
  let invs = await calls();
  assert.deepEqual(summary(invs), ["p1:CHECK", "p2:CHECK", "p3:CHECK"]);
  for (const inv of invs) {
    assert.deepEqual(inv.request().prevResult, added);
    assert.equal(inv.env.CNI_NETNS, RT.netns);
  }
  assert.deepEqual(invs[0]?.request().runtimeConfig, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] });
  await fakes.setBehaviour("p2", "CHECK", { stdout: '{"code":100,"msg":"route missing"}', exitCode: 1 });
  await fakes.clear();
  const e3 = await rejects(r.checkNetworkList(chain("1.0.0"), RT));
  assert.equal(e3.code, 100);
  assert.equal(e3.message, 'plugin type="p2" name="second" failed (check): route missing');
  invs = await calls();
  assert.deepEqual(summary(invs), ["p1:CHECK", "p2:CHECK"]);
  // After DEL, CHECK refuses again.
  await r.delNetworkList(chain("1.0.0"), RT);
  assert.equal((await rejects(r.checkNetworkList(chain("1.0.0"), RT))).code, 3);
});

test("CNI-R-12 GC: DELs stale cached attachments of this network, then GC per plugin with the valid set", async () => {
  const r = runner();
  const list = chain("1.1.0");
  await r.addNetworkList(list, { ...RT, containerId: "keep1" });
  await r.addNetworkList(list, { ...RT, containerId: "stale1", netns: STALE_NETNS, args: [["K8S_POD_NAME", "gone"]] });
  const other = parseNetworkConfigList(JSON.stringify({ cniVersion: "1.1.0", name: "othernet", plugins: [{ type: "p1" }] }));
  await r.addNetworkList(other, { ...RT, containerId: "stale2" });
  await fakes.clear();
  await r.gcNetworkList(list, [{ containerID: "keep1", ifname: "eth0" }]);
  const invs = await calls();
  assert.deepEqual(summary(invs), ["p3:DEL", "p2:DEL", "p1:DEL", "p1:GC", "p2:GC", "p3:GC"]);
  // The stale attachment is deleted with its cached runtime parameters.
  const del = invs[0];
  assert.equal(del?.env.CNI_CONTAINERID, "stale1");
  assert.equal(del.env.CNI_NETNS, STALE_NETNS);
  assert.equal(del.env.CNI_ARGS, "K8S_POD_NAME=gone");
  for (const gc of invs.slice(3)) {
    const q = gc.request();
    assert.deepEqual(q["cni.dev/valid-attachments"], [{ containerID: "keep1", ifname: "eth0" }]);
    assert.equal(q.name, "testnet");
    assert.equal(q.cniVersion, "1.1.0");
    assert.equal("prevResult" in q, false);
    assert.equal("runtimeConfig" in q, gc.plugin === "p1"); // p1's own runtimeConfig passes through
    assert.equal(gc.env.CNI_COMMAND, "GC");
    assert.equal(gc.env.CNI_PATH, fakes.binDir);
    for (const k of ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS"]) assert.equal(gc.env[k], "", k);
  }
  assert.deepEqual((await cacheFiles()).sort(), ["othernet-stale2-eth0", "testnet-keep1-eth0"]);
});

test("CNI-R-12 GC: null valid set, disableGC, pre-1.1.0 networks, and errors that do not stop it", async () => {
  const r = runner();
  await r.addNetworkList(chain("1.1.0"), RT);
  await fakes.clear();
  await r.gcNetworkList(chain("1.1.0", { disableGC: true }), []);
  assert.deepEqual(await calls(), []);
  assert.equal((await cacheFiles()).length, 1);
  // Below 1.1.0: stale attachments are still DELeted, but no plugin is sent GC.
  await r.gcNetworkList(chain("1.0.0"), null);
  assert.deepEqual(summary(await calls()), ["p3:DEL", "p2:DEL", "p1:DEL"]);
  assert.deepEqual(await cacheFiles(), []);
  // Failures are collected; every plugin is still asked.
  await r.addNetworkList(chain("1.1.0"), RT);
  await fakes.setBehaviour("p3", "DEL", { stdout: '{"code":5,"msg":"io"}', exitCode: 1 });
  await fakes.setBehaviour("p1", "GC", { stdout: '{"code":100,"msg":"gc failed"}', exitCode: 1 });
  await fakes.clear();
  const e = await rejects(r.gcNetworkList(chain("1.1.0"), null));
  assert.equal(e.code, 5);
  assert.equal(e.message, 'failed to delete stale attachment c0ffee01 eth0: plugin type="p3" failed (delete): io; failed to GC plugin p1: gc failed');
  assert.deepEqual(summary(await calls()), ["p3:DEL", "p1:GC", "p2:GC", "p3:GC"]);
  const gcReq = (await calls())[1]?.request();
  assert.deepEqual(gcReq?.["cni.dev/valid-attachments"], []);
  // The failed DEL kept its record.
  assert.deepEqual(await cacheFiles(), ["testnet-c0ffee01-eth0"]);
});

test("CNI-R-13 STATUS: below 1.1.0 nothing runs; 1.1.0 asks each plugin; the first error comes back unwrapped", async () => {
  const r = runner();
  await r.getStatusNetworkList(chain("1.0.0"));
  assert.deepEqual(await calls(), []);
  await r.getStatusNetworkList(chain("1.1.0"));
  let invs = await calls();
  assert.deepEqual(summary(invs), ["p1:STATUS", "p2:STATUS", "p3:STATUS"]);
  const q = invs[0]?.request();
  assert.equal(q?.name, "testnet");
  assert.equal(q.cniVersion, "1.1.0");
  assert.equal(invs[0]?.env.CNI_CONTAINERID, "");
  for (const code of [50, 51]) {
    await fakes.setBehaviour("p2", "STATUS", { stdout: JSON.stringify({ code, msg: "no IPs left" }), exitCode: 1 });
    await fakes.clear();
    const e = await rejects(r.getStatusNetworkList(chain("1.1.0")));
    assert.equal(e.code, code);
    assert.equal(e.message, "no IPs left");
    invs = await calls();
    assert.deepEqual(summary(invs), ["p1:STATUS", "p2:STATUS"]);
  }
});

test("CNI-R-16 operations on one container never overlap; different containers do", async () => {
  await fakes.setBehaviour("p1", "ADD", { stdout: JSON.stringify(R1), sleepSeconds: 0.3 });
  const r = runner();
  const list = chain("1.0.0");
  const t0 = Date.now();
  await Promise.all([r.addNetworkList(list, RT), r.delNetworkList(list, RT)]);
  const serial = Date.now() - t0;
  // ADD (p1 p2 p3) completes before DEL starts: no interleaving.
  assert.deepEqual(summary(await calls()), ["p1:ADD", "p2:ADD", "p3:ADD", "p3:DEL", "p2:DEL", "p1:DEL"]);
  assert.deepEqual(await cacheFiles(), []);
  assert.ok(serial >= 300);
  await fakes.clear();
  await Promise.all([r.addNetworkList(list, { ...RT, containerId: "a1" }), r.addNetworkList(list, { ...RT, containerId: "a2" })]);
  // Two containers: the second ADD's p1 starts while the first one's p1 still sleeps.
  const invs = await calls();
  assert.deepEqual(summary(invs.slice(0, 2)), ["p1:ADD", "p1:ADD"]);
  assert.deepEqual(new Set(invs.slice(0, 2).map((i) => i.env.CNI_CONTAINERID)), new Set(["a1", "a2"]));
});

test("CNI-R-12 CNI-R-16 GC waits for a running ADD and the ADD's attachment survives", async () => {
  await fakes.setBehaviour("p3", "ADD", { stdout: JSON.stringify(R3), sleepSeconds: 0.3 });
  const r = runner();
  const list = chain("1.1.0");
  const adding = r.addNetworkList(list, RT);
  await new Promise((res) => setTimeout(res, 100));
  // The runtime lists the attachment as valid, but it has no cache file yet while ADD runs.
  const gc = r.gcNetworkList(list, [{ containerID: RT.containerId, ifname: RT.ifName }]);
  await Promise.all([adding, gc]);
  assert.deepEqual(summary(await calls()), ["p1:ADD", "p2:ADD", "p3:ADD", "p1:GC", "p2:GC", "p3:GC"]);
  assert.deepEqual(await cacheFiles(), ["testnet-c0ffee01-eth0"]);
});

test("CNI-R-17 a plugin past the runner's deadline fails the ADD; DEL of the same tuple cleans up", async () => {
  await fakes.setBehaviour("p2", "ADD", { sleepSeconds: 30 });
  const r = runner(500);
  const e = await rejects(r.addNetworkList(chain("1.0.0"), RT));
  assert.match(e.message, /^plugin type="p2" name="second" failed \(add\): plugin .*\/p2 \(ADD\) timed out after 500 ms and was killed \(it ran \d+ ms\)$/);
  assert.deepEqual(summary(await calls()), ["p1:ADD", "p2:ADD"]);
  assert.deepEqual(await cacheFiles(), []);
  await fakes.clear();
  await r.delNetworkList(chain("1.0.0"), RT);
  assert.deepEqual(summary(await calls()), ["p3:DEL", "p2:DEL", "p1:DEL"]);
});

test("CNI-R-05 a single conf runs as a one-plugin list with its own name and version", async () => {
  const text = JSON.stringify({ cniVersion: "0.4.0", name: "solo", type: "p3", capabilities: { mac: true } });
  const conf = parseNetworkConfig(text);
  const r = runner();
  const res = await r.addNetwork(conf, RT);
  assert.equal(res.cniVersion, "0.4.0");
  const [inv] = await calls();
  const q = inv?.request();
  assert.equal(q?.name, "solo");
  assert.equal(q.cniVersion, "0.4.0");
  assert.deepEqual(q.runtimeConfig, { mac: "0a:58:0a:00:00:03" });
  const cached = await new ResultCache(cacheDir).read({ networkName: "solo", containerId: RT.containerId, ifName: "eth0" });
  assert.ok(cached.state === "ok" && cached.entry.config.toString() === text);
  assert.deepEqual(await r.getNetworkCachedResult(conf, RT), res);
  await r.checkNetwork(conf, RT);
  await r.delNetwork(conf, RT);
  assert.deepEqual(summary(await calls()), ["p3:ADD", "p3:CHECK", "p3:DEL"]);
  assert.deepEqual(await cacheFiles(), []);
});

test("CNI-R-09 getCachedResult converts to the list version; getCachedAttachments lists them", async () => {
  const r = runner();
  await r.addNetworkList(chain("1.1.0"), RT);
  const asOld = await r.getCachedResult(chain("0.4.0"), RT);
  assert.equal(asOld?.cniVersion, "0.4.0");
  assert.equal(await r.getCachedResult(chain("1.1.0"), { containerId: "other", ifName: "eth0" }), undefined);
  const atts = await r.getCachedAttachments(RT.containerId);
  assert.deepEqual(
    atts.map((a) => [a.networkName, a.containerId, a.ifName]),
    [["testnet", "c0ffee01", "eth0"]],
  );
  const raw = await readFile(join(cacheDir, "results", "testnet-c0ffee01-eth0"), "utf8");
  assert.match(raw, /^\{"kind":"cniCacheV1","containerId":"c0ffee01","config":"/);
});
