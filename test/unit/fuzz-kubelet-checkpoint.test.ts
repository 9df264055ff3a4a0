// Property and fuzz tests of the kubelet device-manager checkpoint reader (checkpointDevices in
// src/devices/kubelet-checkpoint.ts): any file gives the pod's devices (resource → IDs, NUMA keys in
// numeric order, in either DeviceIDs shape) or a plain Error whose one-line message names the file;
// never another exception, and the directory is left exactly as it was.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { checkpointDevices } from "../../src/devices/kubelet-checkpoint.ts";
import { assertOneLine, assertReadOnly, asyncOutcomeOf, fuzz, fuzzExample, fuzzProperties, jsonValue, mutatedBytes, mutatedJson } from "../helpers/fuzz.ts";

const PODS = ["u1", "u2", ""];
const RESOURCES = ["intel.com/sriov_netdevice", "intel.com/sriov_vfio", "nvidia.com/gpu"];
const NUMA_KEYS = ["-1", "0", "1", "2", "10"];

interface Entry {
  PodUID: string;
  ContainerName: string;
  ResourceName: string;
  DeviceIDs: string[] | Record<string, string[]>;
  AllocResp: string;
}

const ids = fc.array(fc.oneof(fc.stringMatching(/^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/), fc.string({ maxLength: 6 })), { maxLength: 3 });
/** A NUMA map whose keys are written in any order (the result must not depend on it). */
const numaMap = fc.uniqueArray(fc.tuple(fc.constantFrom(...NUMA_KEYS), ids), { selector: ([k]) => k, maxLength: 4 }).map((pairs) => {
  const map: Record<string, string[]> = {};
  for (const [k, v] of pairs) map[k] = v;
  return map;
});
const entry: fc.Arbitrary<Entry> = fc.record(
  {
    PodUID: fc.constantFrom(...PODS),
    ContainerName: fc.constantFrom("main", "sidecar"),
    ResourceName: fc.constantFrom(...RESOURCES),
    // Kubelets before ~1.20 wrote a plain list; later ones a map keyed by NUMA node.
    DeviceIDs: fc.oneof(ids, numaMap),
    AllocResp: fc.base64String({ maxLength: 12 }),
  },
  { noNullPrototype: true },
);
const checkpoint = fc.record(
  { Data: fc.record({ PodDeviceEntries: fc.array(entry, { maxLength: 5 }), RegisteredDevices: fc.dictionary(fc.constantFrom(...RESOURCES), ids) }, { noNullPrototype: true }), Checksum: fc.nat() },
  { noNullPrototype: true },
);

/** What the reader must find for `pod`: its entries in file order, each NUMA map in numeric key order. */
function expected(doc: { Data: { PodDeviceEntries: Entry[] } }, pod: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of doc.Data.PodDeviceEntries) {
    if (e.PodUID !== pod) continue;
    const list = Array.isArray(e.DeviceIDs)
      ? e.DeviceIDs
      : Object.entries(e.DeviceIDs).sort(([a], [b]) => Number(a) - Number(b)).flatMap(([, v]) => v);
    out.set(e.ResourceName, [...(out.get(e.ResourceName) ?? []), ...list]);
  }
  return out;
}

/** Writes `content` as the checkpoint and reads it for `pod`: the documented outcome, nothing written. */
async function readAs(dir: string, content: string | Uint8Array, pod: string): Promise<Map<string, string[]> | undefined> {
  const file = join(dir, "kubelet_internal_checkpoint");
  await writeFile(file, content);
  const out = await assertReadOnly(dir, () =>
    asyncOutcomeOf(
      () => checkpointDevices(file, pod),
      // The documented errors: plain Errors naming the file (not TypeError, RangeError, …).
      (err) => err instanceof Error && err.constructor === Error && err.message.startsWith(file),
    ),
  );
  if ("error" in out) {
    assertOneLine(out.error.message);
    return undefined;
  }
  assert.ok(out.value instanceof Map);
  for (const [resource, list] of out.value) {
    assert.equal(typeof resource, "string");
    assert.ok(Array.isArray(list) && list.every((id) => typeof id === "string"), `${resource}: a list of IDs`);
  }
  return out.value;
}

const podUid = fc.constantFrom(...PODS, "nobody");

fuzzProperties(import.meta.url, {
  "any bytes: the pod's devices or an Error naming the file; nothing written": fuzz(({ dir }) => fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), podUid, async (b, pod) => {
    await readAs(dir, b, pod);
  }), { weight: 2 }),
  "valid checkpoints in both DeviceIDs shapes: exactly the pod's devices, NUMA nodes in numeric order": fuzz(({ dir }) => fc.asyncProperty(checkpoint, podUid, fc.constantFrom(0, 2), async (doc, pod, indent) => {
    assert.deepEqual(await readAs(dir, JSON.stringify(doc, null, indent), pod), expected(doc, pod));
  }), { weight: 2 }),
  "checkpoints with fields replaced by other types, deleted or added: the same outcomes": fuzz(({ dir }) => fc.asyncProperty(mutatedJson(checkpoint), podUid, async (doc, pod) => {
    await readAs(dir, JSON.stringify(doc), pod);
  }), { weight: 3 }),
  "checkpoint files cut, flipped or spliced: the same outcomes": fuzz(({ dir }) => fc.asyncProperty(mutatedBytes(checkpoint.map((d) => new Uint8Array(Buffer.from(JSON.stringify(d))))), podUid, async (b, pod) => {
    await readAs(dir, b, pod);
  }), { weight: 2 }),
  "any JSON value as the file, or in place of Data, PodDeviceEntries or an entry: the same outcomes": fuzz(({ dir }) => fc.asyncProperty(jsonValue(3), fc.constantFrom(0, 1, 2, 3), podUid, async (v, at, pod) => {
    const doc = at === 0 ? v : at === 1 ? { Data: v } : at === 2 ? { Data: { PodDeviceEntries: v } } : { Data: { PodDeviceEntries: [v, { PodUID: pod, ResourceName: "r", DeviceIDs: v }] } };
    await readAs(dir, JSON.stringify(doc), pod);
  }), { weight: 2 }),
});

fuzzExample("a pod with 200000 device IDs in one NUMA node is read (push(...ids) threw a RangeError)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-fuzz-checkpoint-"));
  try {
    const many = Array.from({ length: 200_000 }, (_, i) => `d${String(i)}`);
    const doc = { Data: { PodDeviceEntries: [{ PodUID: "u1", ContainerName: "a", ResourceName: "r", DeviceIDs: { "0": many }, AllocResp: "" }] } };
    const got = await readAs(dir, JSON.stringify(doc), "u1");
    assert.equal(got?.get("r")?.length, 200_000);
    // A message of V8's that quotes the text, new lines included, is put on one line.
    assert.equal(await readAs(dir, "[1,\n2,\nx]", "u1"), undefined);
    // A resource name with a new line is quoted in the message.
    assert.equal(await readAs(dir, JSON.stringify({ Data: { PodDeviceEntries: [{ PodUID: "u1", ResourceName: "a\nb", DeviceIDs: 5 }] } }), "u1"), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
