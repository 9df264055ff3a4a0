// Property and fuzz tests of the libcni result cache reader (src/cni/result-cache.ts), which reads
// entries containerd, Go libcni and upstream Multus wrote: any text decodes to an entry, a legacy
// result or `corrupt` with a reason, never an exception; reading or listing any directory of files
// changes nothing in it and lists exactly the usable entries; a key that could leave the directory is
// CniError(7). Entries written by the encoder read back as written.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { CniError } from "../../src/cni/cni-error.ts";
import { decodeCacheEntry, encodeCacheEntry, ResultCache, type CachedAttachment, type CacheReadOutcome } from "../../src/cni/result-cache.ts";
import { assertReadOnly, asyncOutcomeOf, fuzz, fuzzProperties, jsonValue, mutatedBytes, mutatedJson, outcomeOf } from "../helpers/fuzz.ts";

/** Entries real Go programs wrote: containerd's for multus, upstream Multus v4.3.0's, libcni's legacy and truncated ones. */
const FIXTURES = ["../fixtures/cache/containerd/results/", "../fixtures/upstream-multus/results/", "../fixtures/cache/go-libcni/results/"].flatMap((rel) => {
  const dir = new URL(rel, import.meta.url).pathname;
  return readdirSync(dir).map((name) => readFileSync(join(dir, name), "utf8"));
});

function isRecordValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What every decode must give: a well-formed outcome, never "absent" (that is read's, for no file). */
function assertOutcome(out: CacheReadOutcome): void {
  switch (out.state) {
    case "ok": {
      const e = out.entry;
      for (const s of [e.containerId, e.networkName, e.ifName]) assert.equal(typeof s, "string");
      assert.ok(Buffer.isBuffer(e.config));
      if (e.netns !== undefined) assert.ok(typeof e.netns === "string" && e.netns !== "");
      if (e.cniArgs !== undefined) for (const pair of e.cniArgs as unknown[][]) assert.ok(pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string");
      if (e.capabilityArgs !== undefined) assert.ok(isRecordValue(e.capabilityArgs));
      if (e.result !== undefined) assert.ok(isRecordValue(e.result));
      // What was read can be written back and read again; from then on nothing changes. (Not always
      // equal to the first read: a number beyond float64, which Go refuses, reads as Infinity and is
      // written as null.)
      const once = decodeCacheEntry(encodeCacheEntry(e));
      assert.equal(once.state, "ok");
      assert.deepEqual(decodeCacheEntry(encodeCacheEntry(once.entry)), once);
      return;
    }
    case "legacy":
      assert.ok(isRecordValue(out.result) && typeof out.result["cniVersion"] === "string");
      return;
    case "corrupt":
      assert.ok(typeof out.reason === "string" && out.reason !== "");
      return;
    default:
      assert.fail(`decode gave ${out.state}`);
  }
}

/** Go's omitempty: empty optional fields are left out when written, so they read back absent. */
function normalised(e: CachedAttachment): CachedAttachment {
  const out: CachedAttachment = { containerId: e.containerId, networkName: e.networkName, ifName: e.ifName, config: e.config };
  if (e.netns !== undefined && e.netns !== "") out.netns = e.netns;
  if (e.cniArgs !== undefined && e.cniArgs.length > 0) out.cniArgs = e.cniArgs;
  if (e.capabilityArgs !== undefined && Object.keys(e.capabilityArgs).length > 0) out.capabilityArgs = e.capabilityArgs;
  if (e.result !== undefined && Object.keys(e.result).length > 0) out.result = e.result;
  return out;
}

function assertOutcomeEqualsEntry(out: CacheReadOutcome, e: CachedAttachment): void {
  assert.deepEqual(out, { state: "ok", entry: normalised(e) });
}

function decode(text: string): CacheReadOutcome {
  // Documented: never throws.
  const out = decodeCacheEntry(text);
  assertOutcome(out);
  return out;
}

// ---- generators -----------------------------------------------------------------------------------

const component = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,11}$/).filter((s) => s !== "." && s !== "..");
const record = fc.dictionary(fc.string({ maxLength: 8 }), jsonValue(2), { maxKeys: 4, noNullPrototype: true });
const entry: fc.Arbitrary<CachedAttachment> = fc
  .record(
    {
      networkName: component,
      containerId: component,
      ifName: component,
      config: fc.uint8Array({ maxLength: 64 }),
      netns: fc.oneof(fc.constant(""), fc.string({ maxLength: 20 })),
      cniArgs: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 4 }),
      capabilityArgs: record,
      result: fc.oneof(record, fc.constant({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] })),
    },
    { requiredKeys: ["networkName", "containerId", "ifName", "config"], noNullPrototype: true },
  )
  .map(({ config, ...rest }) => ({ ...rest, config: Buffer.from(config) }));

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A valid entry's text: one the encoder wrote, or one a Go program wrote. */
const validText = fc.oneof(entry.map(encodeCacheEntry), fc.constantFrom(...FIXTURES));

/** Any text a cache file might hold: arbitrary bytes, valid entries mutated as JSON or as bytes. */
const anyText = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("utf8")),
  mutatedJson(validText.filter(isJson).map((t) => JSON.parse(t) as unknown)).map((v) => JSON.stringify(v)),
  mutatedBytes(validText.map((t) => new Uint8Array(Buffer.from(t)))).map((b) => Buffer.from(b).toString("utf8")),
  jsonValue(3).map((v) => JSON.stringify(v)),
);

/** A key as a caller might pass one: usable, or with "/", "..", "\0", "" in a component. */
const anyComponent = fc.oneof(component, fc.constantFrom("", ".", "..", "a/b", "../x", "a\0b", "-", "x-y"), fc.string({ maxLength: 6 }));

fuzzProperties(import.meta.url, {
  "any text: an entry, a legacy result or corrupt with a reason, never an exception": fuzz(() => fc.property(anyText, (t) => {
    decode(t);
  }), { weight: 8 }),
  "entries the encoder wrote, and the Go programs' entries re-encoded, read back as written": fuzz(() => fc.property(entry, fc.constantFrom(...FIXTURES), (e, go) => {
    assertOutcomeEqualsEntry(decode(encodeCacheEntry(e)), e);
    const fixture = decode(go);
    if (fixture.state === "ok") assert.equal(encodeCacheEntry(fixture.entry), go, "Go's bytes reproduced");
  }), { weight: 4 }),
  "any key: a path directly inside results/, or CniError(7) before any file is touched": fuzz(() => fc.property(anyComponent, anyComponent, anyComponent, (networkName, containerId, ifName) => {
    const cache = new ResultCache("/nonexistent/cache");
    const out = outcomeOf(() => cache.filePath({ networkName, containerId, ifName }), (err) => err instanceof CniError && err.code === 7 && /^cache file path requires a usable /.test(err.message));
    if ("value" in out) assert.equal(dirname(out.value), cache.resultsDir);
  }), { weight: 4 }),
  "read of any file content: the same outcomes as decode, and nothing written": fuzz(({ dir }) => fc.asyncProperty(anyText, async (t) => {
    const cache = new ResultCache(dir);
    const key = { networkName: "net", containerId: "c1", ifName: "eth0" };
    await mkdir(cache.resultsDir, { recursive: true });
    await writeFile(cache.filePath(key), t);
    const out = await assertReadOnly(dir, () => asyncOutcomeOf(() => cache.read(key), () => false));
    if ("value" in out) assert.deepEqual(out.value, decodeCacheEntry(t));
  }), { weight: 2 }),
  "list of a directory of any files (entries, mutated ones, temporaries, directories): exactly the usable entries, sorted; nothing written": fuzz(({ dir }) => fc.asyncProperty(
    fc.uniqueArray(fc.record({ name: fc.oneof(fc.tuple(component, fc.constantFrom("c1", "c2", "c1-x"), component).map((p) => p.join("-")), fc.constantFrom(".tmp-net-c1-eth0", "x"), component), text: fc.oneof(validText, anyText), directory: fc.boolean() }, { noNullPrototype: true }), { selector: (f) => f.name, maxLength: 6 }),
    fc.constantFrom(undefined, "", "c1", "c2"),
    async (files, containerId) => {
      await rm(dir, { recursive: true, force: true });
      const cache = new ResultCache(dir);
      await mkdir(cache.resultsDir, { recursive: true });
      for (const f of files) {
        if (f.directory) await mkdir(join(cache.resultsDir, f.name));
        else await writeFile(join(cache.resultsDir, f.name), f.text);
      }
      const listed = await assertReadOnly(dir, () => cache.list(containerId));
      const filter = containerId === undefined || containerId === "" ? undefined : containerId;
      const want = files
        .filter((f) => !f.directory && !f.name.startsWith("."))
        .filter((f) => filter === undefined || (f.name.indexOf(`-${filter}-`) > 0 && f.name.indexOf(`-${filter}-`) + filter.length + 2 < f.name.length))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((f) => decodeCacheEntry(f.text))
        .flatMap((o) => (o.state === "ok" ? [o.entry] : []))
        .filter((e) => e.ifName !== "" && e.networkName !== "" && (filter === undefined || e.containerId === filter));
      assert.deepEqual(listed, want);
    },
  ), { weight: 1 }),
});
