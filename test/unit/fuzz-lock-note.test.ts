// Property and fuzz tests of the lock holder note (decodeHolderNote in src/multus/sandbox-locks.ts,
// readLockNote in src/util/file-lock.ts): a waiter reads whatever a lock file holds — a note another
// multus is rewriting, another release's note, anything — and gets a whole, well-typed note or none
// (undefined), never an exception and never a note mixed from two writes; reading changes nothing.
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { decodeHolderNote, type HolderNote } from "../../src/multus/sandbox-locks.ts";
import { acquireFileLock, readLockNote } from "../../src/util/file-lock.ts";
import { assertReadOnly, fuzz, fuzzProperties, jsonValue, mutatedBytes, mutatedJson } from "../helpers/fuzz.ts";

/** What every decode must give: undefined, or a note of the documented types. */
function decode(text: string): HolderNote | undefined {
  const note = decodeHolderNote(text);
  if (note === undefined) return undefined;
  assert.equal(typeof note.pid, "number");
  for (const s of [note.start, note.command, note.containerId, note.since]) assert.equal(typeof s, "string");
  assert.equal(typeof note.deadline, "number");
  assert.ok(Array.isArray(note.delegates));
  for (const d of note.delegates) {
    assert.equal(typeof d.pid, "number");
    assert.equal(typeof d.start, "string");
    assert.equal(typeof d.plugin, "string");
    assert.deepEqual(Object.keys(d).sort(), ["pid", "plugin", "start"], "a delegate carries only what was checked");
  }
  if (note.pidns !== undefined) assert.equal(typeof note.pidns, "string");
  return note;
}

const pid = fc.integer({ min: 1, max: 4_194_304 });
const delegate = fc.record({ pid, start: fc.oneof(fc.constant(""), fc.nat().map(String)), plugin: fc.constantFrom("bridge", "macvlan", "host-local", "sriov") }, { noNullPrototype: true });
/** A note as HolderNoteWriter writes it (pidns absent in older releases' notes). */
const note: fc.Arbitrary<HolderNote> = fc.record(
  {
    pid,
    start: fc.nat().map(String),
    command: fc.constantFrom("ADD", "DEL", "CHECK", "GC"),
    containerId: fc.oneof(fc.constant(""), fc.stringMatching(/^[0-9a-f]{8,64}$/)),
    since: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(8.64e15) }).map((d) => d.toISOString()),
    deadline: fc.nat(),
    delegates: fc.array(delegate, { maxLength: 4 }),
    pidns: fc.constantFrom("pid:[4026531836]", "pid:[4026532999]", ""),
  },
  { requiredKeys: ["pid", "start", "command", "containerId", "since", "deadline", "delegates"], noNullPrototype: true },
);

fuzzProperties(import.meta.url, {
  "any text: a well-typed note or none, never an exception": fuzz(() => fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), jsonValue(3).map((v) => JSON.stringify(v))), (t) => {
    decode(t);
  }), { weight: 8 }),
  "a note as the holder writes it is read back exactly": fuzz(() => fc.property(note, (n) => {
    assert.deepEqual(decode(JSON.stringify(n)), n);
  }), { weight: 4 }),
  "notes with fields replaced by other types, deleted or added: none, or a note holding only what the text says": fuzz(() => fc.property(mutatedJson(note), (doc) => {
    const got = decode(JSON.stringify(doc));
    if (got === undefined) return;
    const src = doc as Record<string, unknown>;
    for (const k of ["pid", "start", "command", "containerId", "since", "deadline"] as const) assert.equal(got[k], src[k]);
    // Delegates of the wrong shape are dropped, the others kept in order.
    const delegates = (src["delegates"] as unknown[]).filter((d) => {
      const r = d as Record<string, unknown> | null;
      return typeof r === "object" && r !== null && !Array.isArray(r) && typeof r["pid"] === "number" && typeof r["start"] === "string" && typeof r["plugin"] === "string";
    });
    assert.deepEqual(got.delegates, delegates.map((d) => {
      const r = d as { pid: number; start: string; plugin: string };
      return { pid: r.pid, start: r.start, plugin: r.plugin };
    }));
  }), { weight: 6 }),
  "notes cut, flipped or spliced: none, or a well-typed note": fuzz(() => fc.property(mutatedBytes(note.map((n) => new Uint8Array(Buffer.from(JSON.stringify(n))))), (b) => {
    decode(Buffer.from(b).toString("utf8"));
  }), { weight: 6 }),
  "a note read while the holder rewrites it (the new text over the old, not yet truncated): the new note or none, never a mix": fuzz(() => fc.property(note, note, (old, next) => {
    const oldText = JSON.stringify(old);
    const newText = JSON.stringify(next);
    const torn = newText + oldText.slice(newText.length);
    const got = decode(torn);
    if (torn === newText) assert.deepEqual(got, next);
    else assert.equal(got, undefined);
  }), { weight: 4 }),
  "readLockNote of any lock file (bytes, empty, a directory, missing): a text or none, and nothing written": fuzz(({ dir }) => fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constantFrom("directory", "missing", "")), async (content) => {
    const path = join(dir, "c1.lock");
    await rm(path, { recursive: true, force: true });
    if (content === "directory") await mkdir(path);
    else if (content !== "missing") await writeFile(path, content);
    const text = await assertReadOnly(dir, () => Promise.resolve(readLockNote(path)));
    if (typeof content !== "string") assert.equal(text, content.length === 0 ? undefined : Buffer.from(content).toString("utf8"));
    else assert.equal(text, undefined);
    if (text !== undefined) decode(text);
  }), { weight: 2 }),
  "notes written through a held lock, longer then shorter, are read back whole": fuzz(({ dir }) => fc.asyncProperty(fc.array(note, { minLength: 1, maxLength: 4 }), async (notes) => {
    const lock = await acquireFileLock(join(dir, "held.lock"), { mode: "exclusive", deadline: Date.now() + 10_000 });
    try {
      for (const n of notes) {
        lock.note(JSON.stringify(n));
        assert.deepEqual(decode(readLockNote(lock.path) ?? ""), n);
      }
    } finally {
      lock.release({ unlink: true });
    }
  }), { weight: 0.3 }),
});
