// libcni result cache: format compatibility with Go libcni, atomic writes, corrupt files (CNI-R-09/10).
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeCacheEntry, encodeCacheEntry, ResultCache } from "../../src/cni/result-cache.ts";
import type { CachedAttachment } from "../../src/cni/result-cache.ts";

const FIXTURE = new URL("../fixtures/cache/go-libcni/", import.meta.url).pathname;
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

test("CNI-R-09 reads a cache file written by Go libcni", async () => {
  const cache = new ResultCache(FIXTURE);
  const got = await cache.read({ networkName: "mynet", containerId: "8f1c2d3e4b5a", ifName: "eth0" });
  if (got.state !== "ok") assert.fail(`cache entry is ${got.state}`);
  const e = got.entry;
  assert.equal(e.containerId, "8f1c2d3e4b5a");
  assert.equal(e.networkName, "mynet");
  assert.equal(e.ifName, "eth0");
  assert.equal(e.netns, "/var/run/netns/cni-5e1d2c3b-aaaa-bbbb-cccc-0123456789ab");
  // `config` is base64 of the exact configuration bytes: compare with the original file byte for byte.
  assert.deepEqual(e.config, await readFile(join(FIXTURE, "mynet.conflist")));
  assert.deepEqual(e.cniArgs?.[0], ["IgnoreUnknown", "1"]);
  assert.equal(e.cniArgs.length, 5);
  assert.deepEqual(e.capabilityArgs?.portMappings, [{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "" }]);
  assert.deepEqual(e.capabilityArgs["io.kubernetes.cri.pod-annotations"], { "k8s.v1.cni.cncf.io/networks": "net-a" });
  assert.equal(e.result?.cniVersion, "1.0.0");
  assert.deepEqual(e.result.ips, [{ address: "10.88.0.7/16", gateway: "10.88.0.1", interface: 2 }]);
});

test("CNI-R-09 re-encoding a Go libcni entry reproduces Go's bytes", async () => {
  const text = await readFile(join(FIXTURE, "results/mynet-8f1c2d3e4b5a-eth0"), "utf8");
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
  await cache.write({ networkName: "net2", containerId: "abc", ifName: "net1", config: Buffer.from("{}") });
  await cache.write({ networkName: "net2", containerId: "abcd", ifName: "net2", config: Buffer.from("{}") });
  await writeFile(join(cache.cacheDir, "results", ".net2-abc-net9.tmp-1-0"), "partial");
  const all = await cache.list();
  assert.deepEqual(
    all.map((e) => `${e.networkName}/${e.containerId}/${e.ifName}`),
    // Sorted by file name; the legacy and the truncated fixture are not attachments GC can use.
    ["mynet/8f1c2d3e4b5a/eth0", "net2/abc/net1", "net2/abcd/net2"],
  );
  const one = await cache.list("abc");
  assert.deepEqual(one.map((e) => e.ifName), ["net1"]);
  assert.deepEqual(await new ResultCache(join(dir, "missing")).list(), []);
});
