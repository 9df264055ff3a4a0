// Every stable error code in src/util/multus-error.ts is documented in docs/errors.md with its CNI
// code, and the docs list no code that does not exist.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { MULTUS_ERRORS, MultusError } from "../../src/util/multus-error.ts";

const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");

test("error catalogue: every code is documented with its CNI code, and only those", () => {
  const documented = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(MULTUS_ERR_[A-Z_]+)` \| (\d+)/gm)) documented.set(m[1] ?? "", m[2] ?? "");
  for (const [code, cni] of Object.entries(MULTUS_ERRORS)) {
    assert.equal(documented.get(code), String(cni), `${code} must be in docs/errors.md with CNI code ${cni}`);
  }
  assert.deepEqual([...documented.keys()].sort(), Object.keys(MULTUS_ERRORS).sort());
});

test("error catalogue: a MultusError carries its stable code in details and its CNI code", () => {
  const e = new MultusError("MULTUS_ERR_NAD_NOT_FOUND", 'pod ns/p: network "ns/x" not found');
  assert.equal(e.code, 7);
  assert.equal(e.details, "MULTUS_ERR_NAD_NOT_FOUND");
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 7, msg: 'pod ns/p: network "ns/x" not found', details: "MULTUS_ERR_NAD_NOT_FOUND" });
  assert.equal(new MultusError("MULTUS_ERR_DELEGATE", "x", { cniCode: 7 }).code, 7);
});
