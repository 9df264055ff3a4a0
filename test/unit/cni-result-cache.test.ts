// libcni result cache: format compatibility with Go libcni, atomic writes, corrupt files (CNI-R-09/10).
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeCacheEntry, encodeCacheEntry, ResultCache } from "../../src/cni/result-cache.ts";
import type { CachedAttachment } from "../../src/cni/result-cache.ts";

const FIXTURE = new URL("../fixtures/cache/go-libcni/", import.meta.url).pathname;
/** Captured from containerd in the e2e run (test/fixtures/cache/README.md says how). */
const CONTAINERD = new URL("../fixtures/cache/containerd/", import.meta.url).pathname;
const CONTAINERD_ID = "9cec424976bd3bd7e4d5128b7a5a3af32911fd43b12b9a8b6e7bfdb8823ba9b3";
let dir = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-cache-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fresh(name: string): Promise<ResultCache> {
  const d = join(dir, name);
  await mkdir(d);
  return new ResultCache(d);
}

test("CNI-R-09 reads the cache entry real containerd (Go libcni) wrote for multus in the e2e run", async () => {
  const cache = new ResultCache(CONTAINERD);
  const got = await cache.read({ networkName: "multus-cni-network", containerId: CONTAINERD_ID, ifName: "eth0" });
  if (got.state !== "ok") assert.fail(`cache entry is ${got.state}`);
  const e = got.entry;
  assert.equal(e.containerId, CONTAINERD_ID);
  assert.equal(e.networkName, "multus-cni-network");
  assert.equal(e.ifName, "eth0");
  assert.equal(e.netns, undefined, "containerd 1.6's libcni does not cache the netns");
  // `config` is the list libcni made of 00-multus.conf (Go re-marshalled it: keys sorted).
  const config = JSON.parse(e.config.toString("utf8")) as { name: string; plugins: { type: string; clusterNetwork: string }[] };
  assert.equal(config.name, "multus-cni-network");
  assert.deepEqual(config.plugins.map((p) => [p.type, p.clusterNetwork]), [["multus", "mt-podnet"]]);
  assert.deepEqual(e.cniArgs?.map(([k]) => k), ["IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"]);
  // containerd's Go-capitalised keys, and capability arguments multus never declared (dns) are cached too.
  assert.deepEqual(e.capabilityArgs?.["portMappings"], [{ HostPort: 18081, ContainerPort: 8080, Protocol: "tcp", HostIP: "" }]);
  assert.deepEqual(e.capabilityArgs["dns"], { Servers: ["127.0.0.1"], Searches: ["."], Options: null });
  assert.equal(e.result?.cniVersion, "1.0.0");
  assert.deepEqual(e.result.ips, [{ address: "10.244.0.2/24", gateway: "10.244.0.1", interface: 2 }]);
});

test("CNI-R-09 re-encoding containerd's entry reproduces Go's bytes exactly", async () => {
  const text = await readFile(join(CONTAINERD, "results", `multus-cni-network-${CONTAINERD_ID}-eth0`), "utf8");
  const got = decodeCacheEntry(text);
  if (got.state !== "ok") assert.fail(`cache entry is ${got.state}`);
  assert.equal(encodeCacheEntry(got.entry), text);
});

test("CNI-R-09 reads the pre-cniCacheV1 (bare result) format as legacy", async () => {
  const got = await new ResultCache(FIXTURE).read({ networkName: "oldnet", containerId: "legacy01", ifName: "eth0" });
  if (got.state !== "legacy") assert.fail(`cache entry is ${got.state}`);
  assert.equal(got.result.cniVersion, "0.3.1");
});

test("CNI-R-10 a truncated cache file is reported corrupt, not thrown", async () => {
  const got = await new ResultCache(FIXTURE).read({ networkName: "mynet", containerId: "truncated01", ifName: "eth0" });
  assert.equal(got.state, "corrupt");
});

test("CNI-R-09 a missing file is absent", async () => {
  const got = await new ResultCache(FIXTURE).read({ networkName: "mynet", containerId: "nope", ifName: "eth0" });
  assert.deepEqual(got, { state: "absent" });
});

test("CNI-R-09 decodeCacheEntry rejects wrong kinds and types", () => {
  const cases: [string, string][] = [
    ["[]", "not an object"],
    ['{"kind":"cniCacheV2","containerId":"a"}', "wrong kind"],
    ['{"kind":"cniCacheV1","containerId":"a","config":"%%%","ifName":"eth0","networkName":"n"}', "bad base64"],
    ['{"kind":"cniCacheV1","containerId":"a","config":"","ifName":"eth0","networkName":"n","cniArgs":[["a"]]}', "bad cniArgs"],
    ['{"kind":"cniCacheV1","containerId":"a","config":"","ifName":"eth0","networkName":"n","result":[]}', "bad result"],
    ['{"kind":"cniCacheV1","containerId":5}', "bad containerId"],
    ['{"interfaces":[]}', "neither kind nor cniVersion"],
  ];
  for (const [text, why] of cases) assert.equal(decodeCacheEntry(text).state, "corrupt", why);
});

test("CNI-R-09 write: results dir 0700, file 0600, Go layout, round trip", async () => {
  const cache = await fresh("write");
  const entry: CachedAttachment = {
    networkName: "net1",
    containerId: "c0ffee",
    ifName: "net1",
    config: Buffer.from('{"cniVersion":"1.1.0","name":"net1","plugins":[{"type":"bridge"}]}\n'),
    netns: "/var/run/netns/x",
    cniArgs: [["IgnoreUnknown", "1"]],
    capabilityArgs: { mac: "c2:11:22:33:44:55" },
    result: { cniVersion: "1.1.0", interfaces: [{ name: "net1" }] },
  };
  await cache.write(entry);
  const path = cache.filePath(entry);
  assert.equal(path, join(cache.cacheDir, "results", "net1-c0ffee-net1"));
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(cache.cacheDir, "results"))).mode & 0o777, 0o700);
  const text = await readFile(path, "utf8");
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs", "capabilityArgs", "result"]);
  const back = await cache.read(entry);
  assert.deepEqual(back, { state: "ok", entry });
  // No temporary file survives an atomic write.
  assert.deepEqual(await readdir(join(cache.cacheDir, "results")), ["net1-c0ffee-net1"]);
});

test("CNI-R-09 empty optional fields are omitted as Go omitempty does", () => {
  const text = encodeCacheEntry({ networkName: "n", containerId: "c", ifName: "eth0", config: Buffer.from("{}"), netns: "", cniArgs: [], capabilityArgs: {} });
  assert.deepEqual(JSON.parse(text), { kind: "cniCacheV1", containerId: "c", config: "e30=", ifName: "eth0", networkName: "n" });
});

test("CNI-R-09 overwrite replaces the whole file", async () => {
  const cache = await fresh("overwrite");
  const key = { networkName: "n", containerId: "c", ifName: "eth0" };
  await cache.write({ ...key, config: Buffer.from("x".repeat(5000)) });
  await cache.write({ ...key, config: Buffer.from("y") });
  const got = await cache.read(key);
  if (got.state !== "ok") assert.fail(`cache entry is ${got.state}`);
  assert.equal(got.entry.config.toString(), "y");
});

test("CNI-R-10 delete removes the file and tolerates a missing one", async () => {
  const cache = await fresh("delete");
  const key = { networkName: "n", containerId: "c", ifName: "eth0" };
  await cache.write({ ...key, config: Buffer.from("{}") });
  await cache.delete(key);
  assert.deepEqual(await cache.read(key), { state: "absent" });
  await cache.delete(key);
});

test("CNI-R-09 path components that could leave the directory are refused", () => {
  const cache = new ResultCache("/nonexistent");
  for (const bad of [
    { networkName: "../x", containerId: "c", ifName: "eth0" },
    { networkName: "n", containerId: "", ifName: "eth0" },
    { networkName: "n", containerId: "c", ifName: ".." },
    { networkName: "n", containerId: "a/b", ifName: "eth0" },
  ]) {
    assert.throws(() => cache.filePath(bad), /cache file path requires/);
  }
});

test("CNI-R-12 list returns valid entries sorted, skips temp/corrupt files, filters by container", async () => {
  const cache = await fresh("list");
  await cp(join(FIXTURE, "results"), join(cache.cacheDir, "results"), { recursive: true });
  await cp(join(CONTAINERD, "results"), join(cache.cacheDir, "results"), { recursive: true });
  await cache.write({ networkName: "net2", containerId: "abc", ifName: "net1", config: Buffer.from("{}") });
  await cache.write({ networkName: "net2", containerId: "abcd", ifName: "net2", config: Buffer.from("{}") });
  await writeFile(join(cache.cacheDir, "results", ".net2-abc-net9.tmp-1-0"), "partial");
  const all = await cache.list();
  assert.deepEqual(
    all.map((e) => `${e.networkName}/${e.containerId}/${e.ifName}`),
    // Sorted by file name; the legacy and the truncated fixture are not attachments GC can use.
    [`multus-cni-network/${CONTAINERD_ID}/eth0`, "net2/abc/net1", "net2/abcd/net2"],
  );
  const one = await cache.list("abc");
  assert.deepEqual(one.map((e) => e.ifName), ["net1"]);
  assert.deepEqual(await new ResultCache(join(dir, "missing")).list(), []);
});
