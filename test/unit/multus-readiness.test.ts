// The readiness wait itself (the handlers' use of it, NPWG-23, is tested through dist/bin/multus in
// test/integration/multus-config-file.test.ts): polls, its own 45 s bound and the operation's budget.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isReady, waitForReadiness } from "../../src/multus/readiness.ts";
import { Budget } from "../../src/util/budget.ts";
import { MultusError } from "../../src/util/multus-error.ts";

const budget = (ms = 60_000): Budget => new Budget("ADD", ms, "operationTimeoutSeconds");

test("the readiness wait goes on once the indicator file appears", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-ready-"));
  try {
    const file = join(dir, "ready");
    assert.equal(await isReady(file), false);
    setTimeout(() => void writeFile(file, "ok"), 50);
    await waitForReadiness(file, budget(), { intervalMs: 10, timeoutMs: 5_000 });
    assert.equal(await isReady(file), true);
    await waitForReadiness(undefined, budget());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a readiness indicator that never appears fails with MULTUS_ERR_NOT_READY naming the file", async () => {
  await assert.rejects(waitForReadiness("/nonexistent/mt-ready", budget(), { intervalMs: 10, timeoutMs: 50 }), (err: unknown) => {
    assert.ok(err instanceof MultusError);
    assert.equal(err.errorCode, "MULTUS_ERR_NOT_READY");
    assert.equal(err.code, 11);
    assert.match(err.message, /\/nonexistent\/mt-ready/);
    return true;
  });
});

test("the readiness wait never outlasts the operation's budget, and says so", async () => {
  await assert.rejects(waitForReadiness("/nonexistent/mt-ready", budget(60), { intervalMs: 10 }), (err: unknown) => {
    assert.ok(err instanceof MultusError);
    assert.match(err.message, /when the ADD's 0\.1 s budget \(operationTimeoutSeconds\) ran out/);
    return true;
  });
});
