// Property and fuzz tests of the journal decoder (AttachmentJournal.read in
// src/multus/attachment-journal.ts), through its public read/write API only: a journal as `write`
// makes it reads back as written, and any file in its place — `write`'s output cut, flipped, spliced,
// with fields of other types, or any bytes — reads as `{corrupt: reason}` or a well-formed entry,
// never an exception, and the read changes nothing on disk.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { isAdmitted, restoreDelegateConfig, type DelegateSource } from "../../src/cni/delegate-config.ts";
import { ATTACHMENT_STATES, AttachmentJournal, type JournalEntry, type JournalRead } from "../../src/multus/attachment-journal.ts";
import type { Attachment } from "../../src/multus/attachment-plan.ts";
import { applyByteEdits, applyJsonEdit, assertReadOnly, asyncOutcomeOf, byteEdit, fuzz, fuzzExample, fuzzProperties, jsonEdit, jsonValue } from "../helpers/fuzz.ts";

const ID = "c0ffee";

function isRecordValue(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): boolean {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** A read entry's shape, as the engine uses it. */
function assertWellFormed(entry: JournalEntry): void {
  const { plan, states } = entry;
  for (const s of [plan.containerId, plan.netns, plan.ifName]) assert.equal(typeof s, "string");
  if (plan.pod !== undefined) for (const s of [plan.pod.namespace, plan.pod.name, plan.pod.uid]) assert.equal(typeof s, "string");
  assert.ok(Array.isArray(plan.attachments));
  assert.equal(states.length, plan.attachments.length, "a state per attachment");
  for (const s of states) assert.ok((ATTACHMENT_STATES as readonly string[]).includes(s), `state ${s}`);
  plan.attachments.forEach((a, i) => {
    assert.equal(a.index, i, "an attachment's index is its position (teardownOf looks its state up by it)");
    for (const s of [a.network, a.ifName]) assert.equal(typeof s, "string");
    assert.equal(typeof a.isDefault, "boolean");
    assert.ok(isAdmitted(a.delegate), "the delegate passed the gate");
    assert.equal(typeof a.delegate.name, "string");
    for (const p of a.delegate.plugins) assert.equal(typeof p.type, "string");
    assertSource(a.delegate.source);
    assert.ok(Array.isArray(a.cniArgs));
    for (const pair of a.cniArgs as unknown[]) assert.ok(Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string", "cniArgs are [key, value] pairs");
    assert.ok(isRecordValue(a.capabilityArgs));
    if (a.defaultRoute !== undefined) assert.ok(isStrings(a.defaultRoute));
    if (a.expect !== undefined) {
      if (a.expect.ips !== undefined) assert.ok(isStrings(a.expect.ips));
      if (a.expect.mac !== undefined) assert.equal(typeof a.expect.mac, "string");
    }
    if (a.device !== undefined) for (const s of [a.device.id, a.device.infoFile]) assert.equal(typeof s, "string");
  });
  JSON.stringify(entry);
}

/** The fields each kind of source carries (DelegateSource). */
function assertSource(s: DelegateSource): void {
  const want: Record<string, { required: string[]; optional: string[] }> = {
    admin: { required: ["where"], optional: [] },
    hotplug: { required: ["where"], optional: [] },
    record: { required: ["where"], optional: [] },
    nad: { required: ["namespace", "name"], optional: ["file"] },
    annotation: { required: ["namespace", "name", "pod"], optional: ["file"] },
  };
  const shape = want[s.kind];
  assert.ok(shape !== undefined, `source kind ${s.kind}`);
  const fields = s as unknown as Record<string, unknown>;
  for (const k of shape.required) assert.equal(typeof fields[k], "string", `a ${s.kind} source has ${k}`);
  for (const k of Object.keys(s)) assert.ok(k === "kind" || shape.required.includes(k) || shape.optional.includes(k), `a ${s.kind} source has no ${k}`);
}

/** Reads the journal in `dir` through the public API: nothing thrown, nothing written. */
async function read(dir: string): Promise<NonNullable<JournalRead>> {
  const out = await assertReadOnly(dir, () => asyncOutcomeOf(() => new AttachmentJournal(dir).read(ID), () => false));
  assert.ok("value" in out);
  const got = out.value;
  assert.ok(got !== undefined, "a file is there");
  if ("corrupt" in got) assert.ok(typeof got.corrupt === "string" && got.corrupt !== "", "a reason");
  else assertWellFormed(got.entry);
  return got;
}

/** An entry as the engine hands it to `write`, compared through what it means, not object identity. */
function meaning(entry: JournalEntry): unknown {
  return {
    ...entry,
    plan: { ...entry.plan, attachments: entry.plan.attachments.map((a: Attachment) => ({ ...a, delegate: { list: a.delegate.list, source: a.delegate.source } })) },
  };
}

// ---- generators: entries as the engine writes them ------------------------------------------------

const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const text = fc.string({ maxLength: 12 });
const source: fc.Arbitrary<DelegateSource> = fc.oneof(
  fc.record({ kind: fc.constant("admin" as const), where: text }),
  fc.record({ kind: fc.constant("nad" as const), namespace: word, name: word, file: text }, { requiredKeys: ["kind", "namespace", "name"] }),
  fc.record({ kind: fc.constant("annotation" as const), namespace: word, name: word, file: text, pod: text }, { requiredKeys: ["kind", "namespace", "name", "pod"] }),
  fc.record({ kind: fc.constant("hotplug" as const), where: text }),
  fc.record({ kind: fc.constant("record" as const), where: text }),
);
const plugin = fc.record(
  { type: fc.constantFrom("bridge", "macvlan", "ipvlan", "tuning", "portmap", "sriov"), mtu: fc.nat(9000), ipam: fc.record({ type: fc.constantFrom("host-local", "static", "whereabouts"), subnet: text }), capabilities: fc.dictionary(fc.constantFrom("ips", "mac", "portMappings"), fc.boolean(), { noNullPrototype: true }) },
  { requiredKeys: ["type"], noNullPrototype: true },
);
const delegate = fc
  .tuple(fc.record({ cniVersion: fc.constantFrom("0.3.1", "0.4.0", "1.0.0", "1.1.0"), name: word, plugins: fc.array(plugin, { minLength: 1, maxLength: 3 }) }, { noNullPrototype: true }), source)
  .map(([list, s]) => restoreDelegateConfig(list, s));
const attachment = fc.record(
  {
    network: word,
    ifName: fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
    delegate,
    isDefault: fc.boolean(),
    cniArgs: fc.array(fc.tuple(fc.constantFrom("IgnoreUnknown", "K8S_POD_NAME", "K8S_POD_NAMESPACE", "IP", "MAC"), text), { maxLength: 4 }),
    capabilityArgs: fc.dictionary(fc.constantFrom("ips", "mac", "portMappings", "bandwidth", "deviceID"), jsonValue(2), { noNullPrototype: true }),
    defaultRoute: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 2 }),
    expect: fc.record({ ips: fc.array(fc.ipV4(), { maxLength: 2 }), mac: text }, { requiredKeys: [], noNullPrototype: true }),
    device: fc.record({ id: text, resourceName: text, infoFile: text, dpInfoFile: text }, { requiredKeys: ["id", "infoFile"], noNullPrototype: true }),
  },
  { requiredKeys: ["network", "ifName", "delegate", "isDefault", "cniArgs", "capabilityArgs"], noNullPrototype: true },
);
const entry: fc.Arbitrary<JournalEntry> = fc
  .record(
    {
      netns: text,
      ifName: fc.constantFrom("eth0", "net0"),
      pod: fc.record({ namespace: word, name: word, uid: fc.uuid() }, { noNullPrototype: true }),
      attachments: fc.array(attachment, { maxLength: 4 }),
      states: fc.array(fc.constantFrom(...ATTACHMENT_STATES), { minLength: 4, maxLength: 4 }),
    },
    { requiredKeys: ["netns", "ifName", "attachments", "states"], noNullPrototype: true },
  )
  .map(({ attachments, states, pod, ...rest }) => ({
    plan: { containerId: ID, ...rest, ...(pod === undefined ? {} : { pod }), attachments: attachments.map((a, index): Attachment => ({ index, ...a })) },
    states: states.slice(0, attachments.length),
  }));

/** Writes `e` with the journal's own writer; returns the file's text. */
async function written(dir: string, e: JournalEntry): Promise<string> {
  const journal = new AttachmentJournal(dir);
  await journal.write(e, { durable: "file" });
  return readFile(journal.pathOf(ID), "utf8");
}

async function replace(dir: string, content: string | Uint8Array): Promise<void> {
  const journal = new AttachmentJournal(dir);
  await mkdir(journal.dir, { recursive: true, mode: 0o700 });
  await writeFile(journal.pathOf(ID), content);
}

fuzzProperties(import.meta.url, {
  "a journal as write makes it reads back as written, and writing that again gives the same bytes": fuzz(({ dir }) => fc.asyncProperty(entry, async (e) => {
    const first = await written(dir, e);
    const got = await read(dir);
    assert.ok("entry" in got, "not corrupt");
    assert.deepEqual(meaning(got.entry), meaning(e));
    assertWellFormed(got.entry);
    assert.equal(await written(dir, got.entry), first);
  }), { weight: 1 }),
  "write's journal with values replaced by other types, deleted or added anywhere, also as version 1: corrupt or a well-formed entry": fuzz(({ dir }) => fc.asyncProperty(entry, fc.array(jsonEdit, { minLength: 1, maxLength: 6 }), async (e, changes) => {
    const doc = JSON.parse(await written(dir, e)) as unknown;
    // Each change on its own, then all of them together.
    const variants = [...changes.map((c) => [c]), changes];
    for (const variant of variants) {
      const mutated = variant.reduce(applyJsonEdit, structuredClone(doc));
      await replace(dir, JSON.stringify(mutated));
      await read(dir);
    }
    // The same document as a version 1 journal (the first release's: no states).
    const v1 = changes.reduce(applyJsonEdit, { ...(doc as object), kind: "multusTsAttachmentsV1" });
    await replace(dir, JSON.stringify(v1));
    await read(dir);
  }), { weight: 2 }),
  "write's journal cut at any byte: corrupt or a well-formed entry": fuzz(({ dir }) => fc.asyncProperty(entry, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), async (e, cuts) => {
    const bytes = Buffer.from(await written(dir, e));
    for (const cut of cuts) {
      await replace(dir, bytes.subarray(0, cut % (bytes.length + 1)));
      await read(dir);
    }
  }), { weight: 1 }),
  "write's journal with bytes flipped, inserted or deleted: corrupt or a well-formed entry": fuzz(({ dir }) => fc.asyncProperty(entry, fc.array(fc.array(byteEdit, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), async (e, variants) => {
    const bytes = Buffer.from(await written(dir, e));
    for (const edits of variants) {
      await replace(dir, applyByteEdits(bytes, edits));
      await read(dir);
    }
  }), { weight: 1 }),
  "any bytes in place of a journal: corrupt (or, by chance, a well-formed entry)": fuzz(({ dir }) => fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => {
    await replace(dir, b);
    await read(dir);
  }), { weight: 2 }),
});

// ---- defects of the decoder these properties found (fixed; each is a journal `write` made, with one
// field changed): a stored "index" key, cniArgs that are not pairs, a source without its kind's fields.

/** Writes a one-attachment journal, applies `change` to its JSON, and reads it back. */
async function readChanged(change: (attachment: Record<string, unknown>) => void): Promise<NonNullable<JournalRead>> {
  const dir = await mkdtemp(join(tmpdir(), "mt-fuzz-journal-"));
  try {
    const delegate = restoreDelegateConfig({ cniVersion: "1.0.0", name: "net-a", plugins: [{ type: "bridge" }] }, { kind: "nad", namespace: "ns", name: "net-a" });
    const doc = JSON.parse(await written(dir, { plan: { containerId: ID, netns: "/run/netns/x", ifName: "eth0", attachments: [{ index: 0, network: "net-a", ifName: "net1", delegate, isDefault: false, cniArgs: [["K8S_POD_NAME", "p"]], capabilityArgs: {} }] }, states: ["added"] })) as { attachments: Record<string, unknown>[] };
    const [attachment] = doc.attachments;
    assert.ok(attachment !== undefined);
    change(attachment);
    await replace(dir, JSON.stringify(doc));
    return await read(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a fixed decoder must do with a changed journal: refuse it, or give an entry that passes every check. */
function assertRefusedOrStrict(got: NonNullable<JournalRead>): void {
  if ("entry" in got) assertWellFormed(got.entry);
}

fuzzExample("journal: a stored attachment's own \"index\" key must not replace its position (teardownOf then finds no state and skips it)", async () => {
  assertRefusedOrStrict(await readChanged((a) => {
    a["index"] = 5;
  }));
});

fuzzExample("journal: cniArgs entries that are not [key, value] string pairs must be refused (formatCniArgs throws a TypeError on them at DEL)", async () => {
  assertRefusedOrStrict(await readChanged((a) => {
    a["cniArgs"] = [1, null, ["only-a-key"]];
  }));
});

fuzzExample("journal: a source without the fields of its kind (a nad source without namespace and name) must be refused", async () => {
  assertRefusedOrStrict(await readChanged((a) => {
    a["source"] = { kind: "nad" };
  }));
});
