// src/util/file-lock.ts, with each of its two lock primitives: multus-native.node (the Node-API module
// the executables load from their own directory; here dist/bin's, built by scripts/build.ts), with
// busy waits in the kernel or polled, and the util-linux `flock` fallback. Real: flock(2) on real files, a real child process inheriting a
// locked descriptor. flock(2) locks belong to the open file description, so two acquisitions of one
// path in this process exclude each other exactly as two processes would.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { acquireFileLock, lockPrimitive, LockTimeoutError, LockUnavailableError, useNativeLock } from "../../src/util/file-lock.ts";
import { binPath } from "../helpers/run-executable.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mt-file-lock-"));
});
after(async () => {
  useNativeLock(undefined);
  await rm(dir, { recursive: true, force: true });
});

const soon = (ms = 5000): number => Date.now() + ms;

// The module with busy waits in the kernel (util-linux flock -w, the usual host), the module alone
// polling with its back-off (a host without util-linux), and util-linux flock alone (no module).
const SETUPS = [
  { name: "multus-native.node, busy waits in the kernel", primitive: "multus-native.node", kernelWait: true },
  { name: "multus-native.node, busy waits polled", primitive: "multus-native.node", kernelWait: false },
  { name: "util-linux flock", primitive: "util-linux flock", kernelWait: true },
] as const;

for (const { name, primitive, kernelWait } of SETUPS) {
  describe(`file locks through ${name}`, () => {
    before(() => {
      useNativeLock(primitive === "multus-native.node" ? binPath("multus-native.node") : undefined, { kernelWait });
      assert.equal(lockPrimitive(), primitive);
    });

    test("an exclusive lock keeps a second one waiting until it is released", async () => {
      const path = join(dir, `${name}-x.lock`);
      const first = await acquireFileLock(path, { mode: "exclusive", deadline: soon() });
      let busy = 0;
      const second = acquireFileLock(path, { mode: "exclusive", deadline: soon(), onBusy: () => { busy++; } });
      await sleep(150);
      assert.ok(busy >= 1, "the waiter is told the lock is busy");
      first.release();
      const got = await second;
      assert.ok(got.stillNamed());
      got.release();
    });

    test("shared locks coexist; an exclusive one waits for all of them", async () => {
      const path = join(dir, `${name}-s.lock`);
      const a = await acquireFileLock(path, { mode: "shared", deadline: soon() });
      const b = await acquireFileLock(path, { mode: "shared", deadline: soon(1000) });
      let done = false;
      const x = acquireFileLock(path, { mode: "exclusive", deadline: soon() }).then((l) => {
        done = true;
        return l;
      });
      a.release();
      await sleep(150);
      assert.equal(done, false, "one shared holder is left");
      b.release();
      (await x).release();
    });

    test("a lock still held at the deadline ends in LockTimeoutError", async () => {
      const path = join(dir, `${name}-t.lock`);
      const held = await acquireFileLock(path, { mode: "exclusive", deadline: soon() });
      await assert.rejects(acquireFileLock(path, { mode: "shared", deadline: soon(300) }), (err: unknown) => err instanceof LockTimeoutError && err.path === path);
      held.release();
    });

    test("a child that inherited the locked descriptor keeps the lock after we release ours", async () => {
      const path = join(dir, `${name}-c.lock`);
      const held = await acquireFileLock(path, { mode: "exclusive", deadline: soon() });
      // As a delegate plugin inherits it: the descriptor is the child's fd 3.
      const child = spawn("sleep", ["0.6"], { stdio: ["ignore", "ignore", "ignore", held.fd] });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      held.release();
      const started = Date.now();
      const next = await acquireFileLock(path, { mode: "exclusive", deadline: soon() });
      assert.ok(Date.now() - started >= 300, "the lock was free only once the child had exited");
      await exited;
      next.release();
    });
  });
}

test("a multus-native.node that does not load is reported, not silently replaced by the fallback", async () => {
  const broken = join(dir, "multus-native.node");
  await writeFile(broken, "not an ELF object");
  assert.throws(() => {
    useNativeLock(broken);
  }, (err: unknown) => err instanceof LockUnavailableError && err.message.includes(broken) && /cannot be loaded/.test(err.message));
  useNativeLock(undefined);
});
