// readinessindicatorfile (NPWG-23): ADD/STATUS/GC wait for the cluster network's file, with a deadline.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isReady, waitForReadiness } from "../../src/multus/readiness.ts";
import { MultusError } from "../../src/util/multus-error.ts";

test("NPWG-23 operations wait for the readiness indicator file and go on once it appears", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mt-ready-"));
  try {
    const file = join(dir, "ready");
    assert.equal(await isReady(file), false);
    setTimeout(() => void writeFile(file, "ok"), 50);
    await waitForReadiness(file, { intervalMs: 10, timeoutMs: 5_000 });
    assert.equal(await isReady(file), true);
    await waitForReadiness(undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("NPWG-23 a readiness indicator that never appears fails with MULTUS_ERR_NOT_READY naming the file", async () => {
  await assert.rejects(waitForReadiness("/nonexistent/mt-ready", { intervalMs: 10, timeoutMs: 50 }), (err: unknown) => {
    assert.ok(err instanceof MultusError);
    assert.equal(err.errorCode, "MULTUS_ERR_NOT_READY");
    assert.equal(err.code, 11);
    assert.match(err.message, /\/nonexistent\/mt-ready/);
    return true;
  });
});
