// The daemon's admission and ordering (src/daemon/request-scheduler.ts): bounded concurrency, one
// request per sandbox at a time in arrival order (NPWG-26), DEL first among runnable requests, and
// CNI error 11 beyond the queue or after the queue timeout — never unbounded waiting.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CniError } from "../../src/cni/cni-error.ts";
import { RequestScheduler } from "../../src/daemon/request-scheduler.ts";

/** A job that records when it starts and ends, and finishes when told. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const opts = { concurrency: 2, queueLimit: 10, queueTimeoutMs: 5000, maxQueuedBytes: 1 << 20 };

describe("RequestScheduler", () => {
  test("at most `concurrency` run at once; the rest wait and run as slots free up", async () => {
    const s = new RequestScheduler(opts);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 5 }, gate);
    const jobs = gates.map((g, i) =>
      s.run({ command: "ADD", key: `c${String(i)}`, bytes: 10 }, async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
      }),
    );
    await sleep(10);
    assert.equal(s.running, 2);
    assert.equal(s.queued, 3);
    for (const g of gates) g.open();
    await Promise.all(jobs);
    assert.equal(peak, 2);
    assert.equal(s.running, 0);
    assert.equal(s.queued, 0);
  });

  test("NPWG-26 requests for one sandbox run one at a time, in arrival order, even with free slots", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 8 });
    const order: string[] = [];
    const first = gate();
    const a = s.run({ command: "ADD", key: "same", bytes: 1 }, async () => {
      order.push("ADD start");
      await first.promise;
      order.push("ADD end");
    });
    const d = s.run({ command: "DEL", key: "same", bytes: 1 }, () => {
      order.push("DEL");
      return Promise.resolve();
    });
    const other = s.run({ command: "ADD", key: "other", bytes: 1 }, () => {
      order.push("other");
      return Promise.resolve();
    });
    await other;
    first.open();
    await Promise.all([a, d]);
    assert.deepEqual(order, ["ADD start", "other", "ADD end", "DEL"]);
  });

  test("DEL goes ahead of queued ADDs when a slot frees", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 1 });
    const order: string[] = [];
    const block = gate();
    const head = s.run({ command: "ADD", key: "h", bytes: 1 }, () => block.promise);
    const queued = [
      s.run({ command: "ADD", key: "a1", bytes: 1 }, () => Promise.resolve(void order.push("ADD a1"))),
      s.run({ command: "ADD", key: "a2", bytes: 1 }, () => Promise.resolve(void order.push("ADD a2"))),
      s.run({ command: "DEL", key: "d1", bytes: 1 }, () => Promise.resolve(void order.push("DEL d1"))),
    ];
    block.open();
    await Promise.all([head, ...queued]);
    assert.deepEqual(order, ["DEL d1", "ADD a1", "ADD a2"]);
  });

  test("beyond queueLimit (or the queued bytes) a request is refused at once with CNI error 11", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 1, queueLimit: 1, maxQueuedBytes: 100 });
    const block = gate();
    const head = s.run({ command: "ADD", key: "h", bytes: 1 }, () => block.promise);
    const waiting = s.run({ command: "ADD", key: "w", bytes: 1 }, () => Promise.resolve());
    await assert.rejects(s.run({ command: "ADD", key: "x", bytes: 1 }, () => Promise.resolve()), (err: unknown) => {
      assert.ok(err instanceof CniError);
      assert.equal(err.code, 11);
      assert.match(err.message, /at capacity \(1 running, 1 queued\)/);
      return true;
    });
    const s2 = new RequestScheduler({ ...opts, concurrency: 1, maxQueuedBytes: 100 });
    const block2 = gate();
    const head2 = s2.run({ command: "ADD", key: "h", bytes: 1 }, () => block2.promise);
    await assert.rejects(s2.run({ command: "ADD", key: "big", bytes: 101 }, () => Promise.resolve()), { code: 11 });
    block.open();
    block2.open();
    await Promise.all([head, waiting, head2]);
  });

  test("a request that waits longer than queueTimeoutMs gets error 11 and leaves the queue", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 1, queueTimeoutMs: 50 });
    const block = gate();
    const head = s.run({ command: "ADD", key: "h", bytes: 1 }, () => block.promise);
    let ran = false;
    await assert.rejects(
      s.run({ command: "ADD", key: "late", bytes: 1 }, () => {
        ran = true;
        return Promise.resolve();
      }),
      (err: unknown) => err instanceof CniError && err.code === 11 && /waited \d+ ms in multus-daemon.s queue without a free slot/.test(err.message),
    );
    assert.equal(s.queued, 0);
    block.open();
    await head;
    assert.equal(ran, false);
  });

  test("a failing job frees its slot and its sandbox", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 1 });
    await assert.rejects(s.run({ command: "ADD", key: "k", bytes: 1 }, () => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await s.run({ command: "DEL", key: "k", bytes: 1 }, () => Promise.resolve("ok")), "ok");
  });
});

describe("RequestScheduler: waiting behind the same sandbox, and draining", () => {
  test("a request behind its sandbox's running request may wait past queueTimeoutMs, up to sandboxWaitMs, and the refusal names what it waited for", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 4, queueTimeoutMs: 30, sandboxWaitMs: 200 });
    const slow = gate();
    const add = s.run({ command: "ADD", key: "c1", bytes: 1 }, () => slow.promise);
    const del = s.run({ command: "DEL", key: "c1", bytes: 1 }, () => Promise.resolve("deleted"));
    await sleep(80);
    slow.open();
    await add;
    assert.equal(await del, "deleted", "still waiting after 80 ms > queueTimeoutMs: it waits for its sandbox, not for a slot");

    const stuck = gate();
    const add2 = s.run({ command: "ADD", key: "c2", bytes: 1 }, () => stuck.promise);
    await assert.rejects(s.run({ command: "DEL", key: "c2", bytes: 1 }, () => Promise.resolve()), (err: unknown) => {
      assert.ok(err instanceof CniError);
      assert.equal(err.code, 11);
      assert.match(err.message, /DEL for container c2 waited \d+ ms behind the ADD still running for it/);
      return true;
    });
    stuck.open();
    await add2;
  });

  test("drain() refuses every request not started yet, and every later one, with error 11; running ones finish", async () => {
    const s = new RequestScheduler({ ...opts, concurrency: 1 });
    const block = gate();
    let finished = false;
    const running = s.run({ command: "ADD", key: "a", bytes: 1 }, async () => {
      await block.promise;
      finished = true;
    });
    const waiting = s.run({ command: "ADD", key: "b", bytes: 1 }, () => Promise.resolve());
    s.drain("multus-daemon is shutting down");
    await assert.rejects(waiting, (err: unknown) => err instanceof CniError && err.code === 11 && /shutting down: ADD was not started/.test(err.message));
    await assert.rejects(s.run({ command: "DEL", key: "c", bytes: 1 }, () => Promise.resolve()), { code: 11 });
    block.open();
    await running;
    assert.equal(finished, true);
  });
});
