// Counts the conformance IDs (../shared/reference/conformance.md) that test names cover.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const ID = /\b(CNI-[PR]-\d+|NPWG-\d+|DI-\d+)\b/g;
const covered = new Map<string, Set<string>>();

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

for (const file of walk(join(root, "test"))) {
  const text = readFileSync(file, "utf8");
  // Only IDs inside test(...)/it(...)/describe(...) titles count, not comments.
  for (const m of text.matchAll(/\b(?:test|it|describe)\(\s*([`'"])((?:(?!\1)[^\\]|\\.)*)\1/g)) {
    for (const id of (m[2] ?? "").matchAll(ID)) {
      const key = id[1] ?? "";
      const files = covered.get(key) ?? new Set<string>();
      files.add(file.slice(root.length + 1));
      covered.set(key, files);
    }
  }
}

const ids = [...covered.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
const by = (prefix: string): string[] => ids.filter((i) => i.startsWith(prefix));
for (const prefix of ["CNI-P-", "CNI-R-", "NPWG-", "DI-"]) {
  const list = by(prefix);
  console.log(`${prefix.slice(0, -1).padEnd(6)} ${String(list.length).padStart(2)} covered: ${list.join(" ")}`);
}
