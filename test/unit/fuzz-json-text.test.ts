// Property and fuzz tests of parseJsonText (src/netattach/json-text.ts), the JSON reader of the
// networks annotation, NAD configs and network-status: any text gives JSON.parse's value or a
// one-line, positioned error, never an exception, and no value too deep to serialise again.
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseJsonText } from "../../src/netattach/json-text.ts";
import { assertOneLine, fuzz, fuzzExample, fuzzProperties, jsonValue, mutatedJsonText } from "../helpers/fuzz.ts";

const MAX_DEPTH = 512;

/** How many containers nest at the deepest point of a parsed value (iterative: values may be deep). */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, d] = top;
    if (typeof v !== "object" || v === null) continue;
    deepest = Math.max(deepest, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** The property every input must satisfy. */
function checkText(text: string): void {
  const out = parseJsonText(text);
  let expected: { ok: true; value: unknown } | { ok: false };
  try {
    expected = { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    expected = { ok: false };
  }
  if (out.ok) {
    assert.ok(expected.ok, "accepted only what JSON.parse accepts");
    assert.deepEqual(out.value, expected.value);
    assert.ok(depthOf(out.value) <= MAX_DEPTH);
    // What is accepted can be written again (the delegate's stdin) and copied.
    JSON.stringify(out.value);
    structuredClone(out.value);
    return;
  }
  assertOneLine(out.error);
  const m = /^line (\d+) column (\d+)( \(end of input\))?: \S/.exec(out.error);
  assert.ok(m !== null, `a positioned message: ${out.error}`);
  const lines = text.split("\n");
  const line = Number(m[1]);
  assert.ok(line >= 1 && line <= lines.length, `line ${String(line)} exists`);
  assert.ok(Number(m[2]) <= (lines[line - 1]?.length ?? 0) + 1, "the column is on the line");
  if (expected.ok) {
    assert.ok(depthOf(expected.value) > MAX_DEPTH, "valid JSON is refused only for its depth");
    assert.match(out.error, /nested more than 512 levels deep/);
  }
}

/** Strings of JSON's own characters, so that most of them are near-valid. */
const jsonish = fc
  .array(fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "\\", "u", "0", "1", "-", ".", "e", "E", "+", " ", "\n", "\t", "true", "false", "null", "a", '"k"', "\u2028", "\ud800"), { maxLength: 60 })
  .map((parts) => parts.join(""));

/** A document `depth` containers deep, valid or cut short, with strings holding brackets on the way. */
const deepText = fc
  .record({ depth: fc.integer({ min: 400, max: 3000 }), kinds: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), cut: fc.option(fc.nat(), { nil: undefined }) })
  .map(({ depth, kinds, cut }) => {
    let open = "";
    let close = "";
    for (let i = 0; i < depth; i++) {
      const object = kinds[i % kinds.length] === true;
      open += object ? '{"[{\\"":' : '["]}",';
      close = (object ? "}" : "]") + close;
    }
    const text = `${open}1${close}`;
    return cut === undefined ? text : text.slice(0, cut % text.length);
  });

fuzzProperties(import.meta.url, {
  "any text: JSON.parse's value, or a one-line error naming line and column": fuzz(() => fc.property(fc.string({ unit: "binary", maxLength: 200 }), checkText), { weight: 4 }),
  "near-valid text of JSON's own characters: the same": fuzz(() => fc.property(jsonish, checkText), { weight: 8 }),
  "mutated JSON documents (replaced, deleted, added values; flipped, cut bytes): the same": fuzz(() => fc.property(mutatedJsonText(jsonValue(4)), checkText), { weight: 4 }),
  "documents 400 to 3000 levels deep, whole or cut: refused beyond 512 levels, never a stack overflow": fuzz(() => fc.property(deepText, checkText), { weight: 0.5 }),
});

fuzzExample("a valid document 10000 levels deep is refused (JSON.stringify of it would throw a RangeError)", () => {
  const text = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
  assert.deepEqual(parseJsonText(text), { ok: false, error: "line 1 column 2561: nested more than 512 levels deep" });
  const broken = `${"[".repeat(10_000)}1`;
  assert.deepEqual(parseJsonText(broken), { ok: false, error: "line 1 column 513: nested more than 512 levels deep" });
  const limit = `${"[".repeat(MAX_DEPTH)}${"]".repeat(MAX_DEPTH)}`;
  assert.equal(parseJsonText(limit).ok, true, "512 levels are accepted");
});
